/**
 * Entry of the idle-client child: `memory/idle-clients.ts <port> <count>`. Opens `count` TCP
 * connections to 127.0.0.1:<port> (a bounded number of connects at a time), sends nothing,
 * reports `{type: 'open', count}` over IPC and holds them until SIGTERM or the parent goes away.
 */
import { connect, type Socket } from 'node:net'

/** Messages the idle-client child sends. */
export type IdleClientMessage = { type: 'open', count: number } | { type: 'failed', error: string }

const CONCURRENT_CONNECTS = 200
const CONNECT_TIMEOUT_MS = 10_000

const port = Number(process.argv[2])
const count = Number(process.argv[3])
const sockets: Socket[] = []

function open (): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), CONNECT_TIMEOUT_MS)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.off('error', reject)
      socket.on('error', () => {})
      sockets.push(socket)
      resolve()
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

async function openAll (): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++
      await open()
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_CONNECTS, count) }, worker))
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

openAll().then(() => send({ type: 'open', count: sockets.length }), (err: unknown) => {
  send({ type: 'failed', error: `${sockets.length} of ${count} connections open, then: ${err instanceof Error ? err.message : String(err)}` })
})
