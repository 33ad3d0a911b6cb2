/**
 * The SDK client (`framework/client`) as a load generator, shaped like pipelined-client.ts:
 * `connections` clients, each keeping `inflight` `client.call('/bench/echo', …)` in flight and
 * starting a new call for every valid reply. Replies are counted over a window that opens
 * `settleMs` after every client is open; then the clients are closed.
 */
import { connect, type SdClient } from '../../framework/client/index.js'
import { ECHO_DATA, ECHO_PATH } from './payload.js'
import type { LoadResult } from './pipelined-client.js'

/** Options of one SDK load run. */
export interface SdkLoadOptions {
  /** `tcp://127.0.0.1:<port>` or `ws://127.0.0.1:<port>/ws`. */
  url: string
  connections: number
  /** Calls in flight per client. */
  inflight: number
  settleMs: number
  /** Length of the window; 0 only warms up. */
  durationMs: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function open (url: string): Promise<SdClient> {
  const client = connect(url, { backoff: { firstMs: 50, maxMs: 500 } })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`SDK client did not open ${url}`)), 10_000)
    client.on('status', (s) => { if (s === 'open') { clearTimeout(timer); resolve() } })
  })
  return client
}

/**
 * Keeps `inflight` calls of `call` in flight per client and counts valid echoes over the window
 * (`settleMs` after the start, `durationMs` long); then closes the clients. Shared by the SDK and
 * the hand-written JSON client (json-client.ts), so the two differ only in the client.
 */
export async function runCallLoops<C> (clients: C[], call: (c: C) => Promise<unknown>, close: (c: C) => void, options: SdkLoadOptions): Promise<LoadResult> {
  let running = true
  let completed = 0
  let errors = 0
  let mismatches = 0
  const loop = async (client: C): Promise<void> => {
    while (running) {
      try {
        const reply = await call(client) as { msg?: unknown, n?: unknown } | null
        if (reply?.msg === ECHO_DATA.msg && reply.n === ECHO_DATA.n) completed++
        else mismatches++
      } catch {
        if (running) errors++
        return
      }
    }
  }
  const loops = clients.flatMap((c) => Array.from({ length: options.inflight }, () => loop(c)))
  await sleep(options.settleMs)
  const base = { completed, errors, mismatches }
  const t0 = process.hrtime.bigint()
  await sleep(options.durationMs)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const result: LoadResult = { requests: completed - base.completed, seconds, errors: errors - base.errors, mismatches: mismatches - base.mismatches }
  running = false
  for (const c of clients) close(c)
  await Promise.all(loops)
  return result
}

/** Runs the load and returns what the window counted (`mismatches`: replies that were not the echo). */
export async function runSdkCalls (options: SdkLoadOptions): Promise<LoadResult> {
  const clients = await Promise.all(Array.from({ length: options.connections }, () => open(options.url)))
  return runCallLoops(clients, (c) => c.call(ECHO_PATH, ECHO_DATA), (c) => c.close(), options)
}
