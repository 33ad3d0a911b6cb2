/**
 * The bus operations that cross a process boundary, declared once with their wire shape: the
 * multi-core IPC protocol, the primary's membership mirror and the dispatch cluster's requests
 * between servers all carry these objects. `forEachTarget` says which connections of a table a
 * push reaches (the one definition every side applies), `runPush` runs a push on a process's
 * own connections and `answerQuery` answers a query from a table.
 */
import { SdError } from '../core/errors.js'
import type { PushMeta } from './codec.js'
import { Outgoing, type Connection } from './connection.js'
import type { ConnectionTable, Member } from './table.js'

/**
 * A push: who receives it, or for `kick` and `close` whose connection is closed. `x`: ids to
 * leave out; `r`: the close reason; `except`: a connection `kick` spares (a bind with kick).
 */
export type PushOp =
  | { o: 'uid', u: string, m?: PushMeta }
  | { o: 'uids', u: string[], m?: PushMeta }
  | { o: 'group', g: string, x?: string[], m?: PushMeta }
  | { o: 'all', x?: string[], m?: PushMeta }
  | { o: 'conn', c: string, m?: PushMeta }
  | { o: 'kick', u: string, r: string, except?: string }
  | { o: 'close', c: string, r: string }

// declared with the codec that encodes it (connection.ts and codec.ts cannot import this file)
export type { PushMeta } from './codec.js'

/** A query about the whole server (multi-core) or cluster. */
export type QueryOp =
  | { o: 'online', u: string }
  | { o: 'count' }
  | { o: 'members', g: string }
  | { o: 'groupCount', g: string }
  | { o: 'groups' }
  /** Connections per transport (multi-core status pages; a cluster does not answer it). */
  | { o: 'connections' }

/** Either kind of operation. */
export type BusOp = PushOp | QueryOp

/**
 * A membership change of one connection, as a bus that mirrors membership elsewhere hears it
 * (after the local table applied it). `previous`: the uid a bind replaced; `first`: the bind
 * made the uid present in this process; `was`: what a closed connection held.
 */
export type MembershipChange =
  | { t: 'open', c: string }
  | { t: 'close', c: string, was?: { uid?: string, groups?: ReadonlySet<string> } }
  | { t: 'bind', c: string, u: string, kick: boolean, previous: string | undefined, first: boolean }
  | { t: 'unbind', c: string, u: string | undefined }
  | { t: 'join', c: string, g: string }
  | { t: 'leave', c: string, g: string }

/** True for a push that carries data (`kick` and `close` carry none). */
export function carriesData (op: PushOp): boolean {
  return op.o !== 'kick' && op.o !== 'close'
}

/** `SendOptions.exclude` as the list a `PushOp` carries. */
export function excludeList (exclude: string | readonly string[] | undefined): string[] | undefined {
  if (exclude === undefined) return undefined
  return typeof exclude === 'string' ? [exclude] : [...exclude]
}

/** Calls `fn` once for each member of `table` that `op` reaches. */
export function forEachTarget<C extends Member> (table: ConnectionTable<C>, op: PushOp, fn: (m: C) => void): void {
  switch (op.o) {
    case 'uid': for (const m of table.byUid(op.u)) fn(m); return
    case 'uids': {
      // a connection has one uid, so distinct uids never reach a connection twice
      const seen = op.u.length > 1 ? new Set<string>() : undefined
      for (const u of op.u) {
        if (seen) { if (seen.has(u)) continue; seen.add(u) }
        for (const m of table.byUid(u)) fn(m)
      }
      return
    }
    case 'group': each(table.byGroup(op.g), op.x, fn); return
    case 'all': each(table.all(), op.x, fn); return
    case 'conn':
    case 'close': { const m = table.get(op.c); if (m) fn(m); return }
    case 'kick': for (const m of table.byUid(op.u)) if (m.id !== op.except) fn(m)
  }
}

function each<C extends Member> (members: Iterable<C>, exclude: readonly string[] | undefined, fn: (m: C) => void): void {
  const skip = exclude !== undefined && exclude.length > 0 ? new Set(exclude) : undefined
  for (const m of members) if (!skip?.has(m.id)) fn(m)
}

/**
 * Runs `op` on this process's connections: pushes the data (one encoding per codec however
 * many connections; `json`: the data as JSON text instead, passed on without re-encoding) or
 * closes them. Resolves to how many connections it reached.
 */
export function runPush (table: ConnectionTable, op: PushOp, data: unknown, json?: string): number {
  let n = 0
  if (op.o === 'kick' || op.o === 'close') {
    const reason = op.r
    const doomed: Connection[] = []
    forEachTarget(table, op, (c) => doomed.push(c))
    // closed after the walk: a close removes the connection from the set being walked
    for (const c of doomed) c.close(new SdError('SD_ERR_KICKED', reason))
    return doomed.length
  }
  const meta = op.m
  let out: Outgoing | undefined
  forEachTarget(table, op, (c) => {
    out ??= new Outgoing(data, json, meta)
    if (c.pushOutgoing(out)) n++
  })
  if (meta !== undefined && op.o === 'group' && op.x !== undefined && op.x.length > 0) skipExcluded(table, op.g, op.x, meta)
  return n
}

/**
 * A recorded group push left out these connections: each of them that is in the group (here)
 * gets a skip message for that offset instead, so its client stays in step and does
 * not recover a push it left out on purpose (its own message, usually). Not counted. Only
 * connections of the SDK get it.
 */
function skipExcluded (table: ConnectionTable, group: string, exclude: readonly string[], meta: PushMeta): void {
  const members = table.byGroup(group)
  let skip: Outgoing | undefined
  for (const id of new Set(exclude)) {
    const c = table.get(id)
    // only SDK clients (`/sd/hello` set `$sd`) know skip messages; others would see an empty push
    if (c === undefined || !members.has(c) || c.session.$sd === undefined) continue
    skip ??= new Outgoing(undefined, undefined, { s: meta.s, e: meta.e, o: meta.o, y: 2 })
    c.pushOutgoing(skip)
  }
}

/** `op` with `meta` when there is one (no `m` key at all otherwise: ops cross processes). */
export function withMeta<T extends PushOp & { m?: PushMeta }> (op: T, meta: PushMeta | undefined): T {
  if (meta !== undefined) op.m = meta
  return op
}

/** Distinct uids bound in `group`. */
export function groupUids (table: ConnectionTable<Member>, group: string): string[] {
  const uids = new Set<string>()
  for (const m of table.byGroup(group)) if (m.uid !== undefined) uids.add(m.uid)
  return [...uids]
}

/** Answers `q` from `table` (`connections` is not a table's to answer: undefined). */
export function answerQuery (table: ConnectionTable<Member>, q: QueryOp): unknown {
  switch (q.o) {
    case 'online': return table.byUid(q.u).size > 0
    case 'count': return table.uidCount()
    case 'members': return groupUids(table, q.g)
    case 'groupCount': return table.byGroup(q.g).size
    case 'groups': return table.groupNames()
    case 'connections': return undefined
  }
}
