/**
 * The control socket of a running server (`.sd/control.sock`): one JSON line in, one JSON line
 * out. `sd status`, `sd reload` and `sd stop` use it; the pid file alone cannot tell a live
 * server from a recycled pid.
 */
import { createConnection, createServer, type Server } from 'node:net'
import { chmod, rm } from 'node:fs/promises'

/** Commands the server answers. */
export type ControlCommand = 'status' | 'reload' | 'stop'

/** An answer: `{ok: true, data}` or `{ok: false, error}`. */
export type ControlAnswer = { ok: true, data: unknown } | { ok: false, error: string }

/** Serves the control socket; `handle` answers each command. */
export async function serveControl (path: string, handle: (cmd: ControlCommand) => Promise<unknown>): Promise<Server> {
  await rm(path, { force: true })
  const server = createServer((socket) => {
    let buf = ''
    socket.setEncoding('utf8')
    socket.on('error', () => {})
    socket.on('data', (chunk: string) => {
      buf += chunk
      const nl = buf.indexOf('\n')
      if (nl === -1) {
        if (buf.length > 1024) socket.destroy()
        return
      }
      const cmd = buf.slice(0, nl).trim() as ControlCommand
      buf = ''
      socket.removeAllListeners('data')
      const answer = (a: ControlAnswer): void => { socket.end(JSON.stringify(a) + '\n') }
      if (!['status', 'reload', 'stop'].includes(cmd)) return answer({ ok: false, error: `unknown command ${JSON.stringify(cmd)}` })
      handle(cmd).then((data) => answer({ ok: true, data: data ?? null }), (err: unknown) => answer({ ok: false, error: (err as Error)?.message ?? String(err) }))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  await chmod(path, 0o600)
  return server
}

/** No answer within the time given: the server may be alive but busy. */
export class ControlTimeoutError extends Error {}

/**
 * Sends one command; rejects when nothing answers (no server, or a stale socket file), or
 * with `ControlTimeoutError` after `timeoutMs` (0: wait as long as it takes).
 */
export function sendControl (path: string, cmd: ControlCommand, timeoutMs = 10_000): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path)
    let buf = ''
    const timer = timeoutMs > 0 ? setTimeout(() => { socket.destroy(); reject(new ControlTimeoutError(`no answer to ${cmd} within ${timeoutMs} ms`)) }, timeoutMs) : undefined
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(cmd + '\n'))
    socket.on('data', (chunk: string) => { buf += chunk })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => {
      clearTimeout(timer)
      try { resolve(JSON.parse(buf) as ControlAnswer) } catch { reject(new Error(`bad answer to ${cmd}: ${JSON.stringify(buf.slice(0, 200))}`)) }
    })
  })
}
