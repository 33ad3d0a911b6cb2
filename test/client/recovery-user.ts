/**
 * An SDK client for the recovery tests: logs in through `/api/login` (bind + join) on every
 * (re)connect and records every push its handler saw, in order, with its stream and whether it
 * was recovered; `cut`/`restore` break and mend its link through a test proxy.
 */
import { connect, type ClientOptions, type GapInfo, type SdClient } from '../../framework/client/index.js'
import { waitUntil } from '../helpers.js'
import type { TestProxy } from '../proxy.js'

/** One push the handler saw. */
export interface Seen { data: unknown, stream?: string, recovered: boolean }

/** A logged-in SDK client and what it saw. */
export interface User {
  client: SdClient
  seen: Seen[]
  gaps: GapInfo[]
  /** Times the client reached 'open'. */
  opens: () => number
  /** `[data, recovered]` of the pushes of one stream, in order. */
  of: (stream: string) => Array<[unknown, boolean]>
}

/** Connects to `url` as `uid` (in `room` when given) and waits until logged in. */
export async function user (url: string, uid: string, room?: string, options: ClientOptions = {}): Promise<User> {
  const login = { uid, room }
  const client = connect(url, {
    backoff: { firstMs: 20, maxMs: 100 },
    ...options,
    onReconnect: async ({ call }) => { await call('/api/login', login) },
  })
  const seen: Seen[] = []
  const gaps: GapInfo[] = []
  let opens = 0
  client.on('status', (s) => { if (s === 'open') opens++ })
  client.on('push', (data, meta) => { seen.push({ data, stream: meta.stream, recovered: meta.recovered }) })
  client.on('gap', (g) => gaps.push(g))
  client.on('error', () => {})
  await client.call('/api/login', login)
  const of = (stream: string): Array<[unknown, boolean]> => seen.filter((s) => s.stream === stream).map((s) => [s.data, s.recovered])
  return { client, seen, gaps, opens: () => opens, of }
}

/** Cuts the link: new connections are refused, open ones dropped; resolves once the client noticed. */
export async function cut (proxy: TestProxy, u: User): Promise<void> {
  proxy.refuse(true)
  proxy.drop()
  await waitUntil(() => u.client.status === 'reconnecting', 5000, 'the client to notice the cut')
}

/** Lets connections through again; resolves once the client reopened (logged in and recovered). */
export async function restore (proxy: TestProxy, u: User, timeoutMs = 10_000): Promise<void> {
  const before = u.opens()
  proxy.refuse(false)
  await waitUntil(() => u.opens() > before, timeoutMs, 'the client to reconnect')
}
