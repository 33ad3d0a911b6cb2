/**
 * Request/answer clients of the reload benchmark, one per transport, each request named by a
 * number so an answer (or an error answer) is matched to what was sent:
 *  - `tcp`: SD's framed TCP port, `/bench/echo` with `{n}`; answers `{id, data}` or `{id, error}`.
 *  - `ws`: the same JSON on the WebSocket endpoint `/ws`.
 *  - `text`: the demo's chat on the text port as telnet sends it (lines ending `\r\n`): a
 *    nickname first, then `<uid>:x` to a uid no one has, answered `uid <uid> is not online`
 *    (one line per request, the uid names it); an error answers `ERROR <code>: …` with no id,
 *    so a text client keeps one request outstanding.
 * A client reports each answer and a close it did not ask for; it never reconnects itself.
 */
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { WebSocket } from 'ws'

export type ProbeKind = 'tcp' | 'ws' | 'text'

/** What a probe reports to its owner. */
export interface ProbeEvents {
  /** The request `n` was answered: `code` is the error code of an error answer. */
  answer (n: number, code: string | undefined): void
  /** The server closed the connection (or it failed). */
  closed (): void
}

/** One connection that sends numbered requests. */
export interface Probe {
  readonly kind: ProbeKind
  send (n: number): void
  /** Closes it from the client side (no `closed` report). */
  end (): void
}

/** Requests on the text port name a uid from here up (no user has one that large). */
const TEXT_UID_BASE = 9_000_000_000
const IAC = 0xff

function parseJsonReply (text: string, events: ProbeEvents): void {
  const msg = JSON.parse(text) as { id?: number, error?: { code: string } }
  if (typeof msg.id === 'number') events.answer(msg.id, msg.error?.code)
}

/** A socket whose server-side close is reported once, and a client-side end that is not. */
function watchSocket (socket: Socket, events: ProbeEvents): { end: () => void } {
  let ending = false
  socket.on('error', () => {})
  socket.on('close', () => { if (!ending) events.closed() })
  return { end: () => { ending = true; socket.destroy() } }
}

async function tcpProbe (port: number, events: ProbeEvents): Promise<Probe> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true })
  await once(socket, 'connect')
  let buf: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk
    let off = 0
    while (buf.length - off >= 4) {
      const end = off + 4 + buf.readUInt32BE(off)
      if (end > buf.length) break
      parseJsonReply(buf.toString('utf8', off + 4, end), events)
      off = end
    }
    buf = buf.subarray(off)
  })
  const { end } = watchSocket(socket, events)
  return {
    kind: 'tcp',
    send (n) {
      const body = Buffer.from(JSON.stringify({ id: n, path: '/bench/echo', data: { n } }))
      const head = Buffer.allocUnsafe(4)
      head.writeUInt32BE(body.length)
      socket.write(Buffer.concat([head, body]))
    },
    end,
  }
}

async function wsProbe (port: number, events: ProbeEvents): Promise<Probe> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  let ending = false
  ws.on('error', () => {})
  ws.on('message', (data) => parseJsonReply(String(data), events))
  ws.on('close', () => { if (!ending) events.closed() })
  return {
    kind: 'ws',
    send (n) { ws.send(JSON.stringify({ id: n, path: '/bench/echo', data: { n } })) },
    end () { ending = true; ws.terminate() },
  }
}

/**
 * A telnet-like chat user: signs in with `nick`, then checks the session holds the name (a
 * `0:x` line answered "uid 0 is not online", not taken as a nickname) before it reports ready.
 */
async function textProbe (port: number, events: ProbeEvents, nick: string): Promise<Probe> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true })
  await once(socket, 'connect')
  let partial = ''
  let ready: ((line: string) => void) | undefined
  const outstanding: number[] = []
  socket.on('data', (chunk: Buffer) => {
    // telnet commands (the port opens with IAC DO BINARY) are 3 bytes each; the chat sends no 0xff in text
    let text = ''
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === IAC) { i += 2; continue }
      text += String.fromCharCode(chunk[i])
    }
    const lines = (partial + text).split('\n')
    partial = lines.pop() ?? ''
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
      if (ready !== undefined) { ready(line); continue }
      const answered = /^uid (\d+) is not online$/.exec(line)
      if (answered !== null) {
        const n = Number(answered[1]) - TEXT_UID_BASE
        const i = outstanding.indexOf(n)
        if (i >= 0) outstanding.splice(i, 1)
        events.answer(n, undefined)
      } else if (line.startsWith('ERROR ')) {
        const n = outstanding.shift()
        if (n !== undefined) events.answer(n, /^ERROR (\S+?):/.exec(line)?.[1] ?? 'ERROR')
      } // other lines are chat pushes (joins, leaves) or history
    }
  })
  socket.on('error', () => {})
  const signedIn = new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('text client: no sign-in within 10 s')), 10_000)
    let checking = false
    ready = (line) => {
      if (line.startsWith('welcome ')) {
        checking = true
        socket.write('0:x\r\n')
      } else if (checking && line === 'uid 0 is not online') {
        clearTimeout(deadline)
        ready = undefined
        resolve()
      }
    }
    socket.once('close', () => reject(new Error('text client: closed while signing in')))
  })
  socket.write(`${nick}\r\n`)
  await signedIn
  const { end } = watchSocket(socket, events)
  return {
    kind: 'text',
    send (n) {
      outstanding.push(n)
      socket.write(`${TEXT_UID_BASE + n}:x\r\n`)
    },
    end,
  }
}

/** Opens a probe of `kind`: TCP on the tcp port, WebSocket on the http port, text on the text port. */
export function openProbe (kind: ProbeKind, ports: { tcp: number, text: number, http: number }, events: ProbeEvents, nick = 'bench'): Promise<Probe> {
  if (kind === 'tcp') return tcpProbe(ports.tcp, events)
  if (kind === 'ws') return wsProbe(ports.http, events)
  return textProbe(ports.text, events, nick)
}

/**
 * `count` idle TCP connections (opened `batch` at a time); `closed()` counts the ones the server
 * closed; `end()` closes the rest.
 */
export async function holdIdle (port: number, count: number, batch = 500): Promise<{ closed: () => number, end: () => void }> {
  const sockets: Socket[] = []
  let closed = 0
  let ending = false
  for (let i = 0; i < count; i += batch) {
    const opened = Array.from({ length: Math.min(batch, count - i) }, async () => {
      const s = connect({ host: '127.0.0.1', port })
      s.on('error', () => {})
      s.resume() // read (and drop) what the server sends, so its close is seen
      await once(s, 'connect')
      s.on('close', () => { if (!ending) closed++ })
      sockets.push(s)
    })
    await Promise.all(opened)
  }
  return {
    closed: () => closed,
    end: () => { ending = true; for (const s of sockets) s.destroy() },
  }
}
