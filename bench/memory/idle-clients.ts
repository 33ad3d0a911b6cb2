/**
 * Entry of the idle-client child: `memory/idle-clients.ts <port> <count> [options]`. Opens
 * `count` TCP connections to 127.0.0.1:<port> (a bounded number of connects at a time), sends
 * nothing after connecting, reports `{type: 'open', count}` over IPC and holds them until
 * SIGTERM or the parent goes away. Options (`bench/connections.ts` uses them):
 * - `--from=127.0.0.2`: source address, with local ports counted up from 10000 (a port taken
 *   is skipped): the kernel's search for a free port of one address grows slow past ~10k in use;
 * - `--ws=/ws`: complete a WebSocket handshake on that path (a hand-written upgrade request,
 *   so the client side stays as small as a TCP one), then stay idle;
 * - `--concurrent=N`: connects in flight at a time (default 200);
 * - `--wait`: report `{type: 'ready'}` and start only on a `{type: 'go', upTo}` message; each
 *   `go` raises how many connections may be opened so far (`upTo`, default all). A TCP connect
 *   completes in the kernel before the server accepts it, so without this bound a busy server's
 *   accept queue overflows and the dropped SYNs come back only after 1, 3, 7 s.
 */
import { connect, type Socket } from 'node:net'

/** Messages the idle-client child sends. */
export type IdleClientMessage = { type: 'ready' } | { type: 'open', count: number } | { type: 'failed', error: string }
/** What the parent sends to a `--wait` child. */
export interface IdleClientGo { type: 'go', upTo?: number }

const CONNECT_TIMEOUT_MS = 10_000

const port = Number(process.argv[2])
const count = Number(process.argv[3])
const option = (name: string): string | undefined =>
  process.argv.slice(4).find((a) => a === `--${name}` || a.startsWith(`--${name}=`))?.replace(/^--[^=]+=?/, '')
const from = option('from')
const wsPath = option('ws')
const concurrent = Number(option('concurrent') ?? 200)
const waitForGo = option('wait') !== undefined
const sockets: Socket[] = []
/** Connections that may be opened so far. */
let allowed = waitForGo ? 0 : count
let raised: Promise<void> | undefined
let raise: (() => void) | undefined

// any 16 bytes in base64 do (this is RFC 6455's sample): the client never checks Sec-WebSocket-Accept
const upgrade = wsPath === undefined
  ? ''
  : `GET ${wsPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'

let nextPort = 10_000

/** Resolves once the socket is connected (TCP) or upgraded (`--ws`: a 101 answer has arrived). */
function open (): Promise<void> {
  return new Promise((resolve, reject) => {
    const localPort = from === undefined ? undefined : nextPort++
    if (localPort !== undefined && localPort > 65_535) return reject(new Error(`no local port left on ${from}`))
    const socket = connect({ host: '127.0.0.1', port, localAddress: from, localPort })
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), CONNECT_TIMEOUT_MS)
    const done = (): void => {
      clearTimeout(timer)
      socket.removeAllListeners('error').removeAllListeners('close')
      socket.on('error', () => {})
      sockets.push(socket)
      resolve()
    }
    socket.once('connect', () => {
      if (wsPath === undefined) return done()
      socket.write(upgrade)
      let head = ''
      const onData = (chunk: Buffer): void => {
        head += chunk.toString('latin1')
        if (!head.includes('\r\n\r\n')) return
        socket.off('data', onData)
        if (!head.startsWith('HTTP/1.1 101')) {
          socket.destroy(new Error(`upgrade refused: ${head.slice(0, head.indexOf('\r\n'))}`))
          return
        }
        socket.on('data', () => {}) // pushes or pings the server might send are read and dropped
        done()
      }
      socket.on('data', onData)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      socket.removeAllListeners('close')
      if (err.code === 'EADDRINUSE' && localPort !== undefined) open().then(resolve, reject)
      else reject(err)
    })
    // closed by the server before it was open or upgraded (e.g. accepted and dropped on EMFILE)
    socket.once('close', () => {
      clearTimeout(timer)
      reject(new Error('closed by the server while opening'))
    })
  })
}

async function openAll (): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      if (next >= allowed) {
        await (raised ??= new Promise((resolve) => { raise = resolve }))
        continue
      }
      next++
      await open()
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrent, count) }, worker))
}

function send (msg: IdleClientMessage): void {
  process.send?.(msg)
}

const exit = (): void => {
  for (const s of sockets) s.destroy()
  process.exit(0)
}
process.on('SIGTERM', exit)
process.on('disconnect', exit)

function start (): void {
  openAll().then(() => send({ type: 'open', count: sockets.length }), (err: unknown) => {
    send({ type: 'failed', error: `${sockets.length} of ${count} connections open, then: ${err instanceof Error ? err.message : String(err)}` })
  })
}

if (!waitForGo) {
  start()
} else {
  let started = false
  process.on('message', (msg: unknown) => {
    const go = msg as IdleClientGo | null
    if (go?.type !== 'go') return
    allowed = Math.min(count, go.upTo ?? count)
    const wake = raise
    raised = raise = undefined
    wake?.()
    if (!started) {
      started = true
      start()
    }
  })
  send({ type: 'ready' })
}
