/**
 * HTTP load through autocannon (programmatic, in this process): `POST /bench/echo` with the
 * JSON payload, every reply body checked against the payload (`expectBody`). `settleMs` is a
 * separate autocannon run before the measured one (autocannon opens new connections per run).
 */
import autocannon from 'autocannon'
import { ECHO_JSON, ECHO_PATH } from './payload.js'
import type { LoadOptions, LoadResult } from './pipelined-client.js'

/** autocannon stops at the first sample tick after its duration: sample often. */
const SAMPLE_MS = 100

/** Runs the HTTP load and returns what the measured run counted. */
export async function runHttp (options: LoadOptions): Promise<LoadResult> {
  const base = {
    url: `http://127.0.0.1:${options.port}${ECHO_PATH}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: ECHO_JSON,
    expectBody: ECHO_JSON,
    connections: options.connections,
    pipelining: options.pipelining,
    timeout: 10,
    sampleInt: SAMPLE_MS,
  }
  if (options.settleMs > 0) await autocannon({ ...base, duration: options.settleMs / 1000 })
  if (options.durationMs <= 0) return { requests: 0, seconds: 0, errors: 0, mismatches: 0 }
  options.onWindowStart()
  const r = await autocannon({ ...base, duration: options.durationMs / 1000 })
  return { requests: r['2xx'] - r.mismatches, seconds: r.duration, errors: r.errors + r.non2xx, mismatches: r.mismatches }
}
