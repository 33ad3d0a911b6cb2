/** A TCP request that may wait longer than `TcpClient.request` does: the first task call starts the worker threads. */
import type { Envelope, TcpClient } from '../helpers.js'

let ids = 0

/** Sends `{id, path, data}` and waits up to `timeoutMs` for its reply. */
export async function coldRequest (tcp: TcpClient, path: string, data?: unknown, timeoutMs = 15_000): Promise<Envelope> {
  const id = `cold-${++ids}`
  tcp.frame(JSON.stringify({ id, path, data }))
  return tcp.next((m) => m.id === id, timeoutMs)
}
