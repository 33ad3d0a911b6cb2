/**
 * The text of the cluster bus's requests between servers. A request body is one line of JSON
 * (a bus operation of connection/bus-ops.ts), then, for a push, a newline and the data as JSON:
 * serialised once per call whatever the number of target nodes, and passed to JSON clients as
 * it is on the receiving server. A uid push, the commonest request, has the uid as a JSON
 * string for its op line (no object to write or parse), unless it carries meta (a stream
 * position: then an op object). A notice tells every server that uids now live (also) on its
 * sender.
 */
import { carriesData, type BusOp, type PushOp } from '../connection/bus-ops.js'

/** A notice: these uids now live (also) on the sender. */
export interface UidNotice { o: 'here', u: string[] }

/** The text of `op`, with `data` after it for a push that carries data. Throws for data that is not JSON-able. */
export function requestText (op: BusOp, data?: unknown): string {
  // a uid push with meta goes as an op object (the uid text has no room for it)
  if (op.o === 'uid' && op.m === undefined) return uidText(op.u, data)
  const head = JSON.stringify(op)
  return isPush(op) && carriesData(op) ? `${head}\n${dataText(data)}` : head
}

/** The text of a push to `uid`: the uid as a JSON string, a newline, the data as JSON. */
export function uidText (uid: string, data: unknown): string {
  return `${JSON.stringify(uid)}\n${dataText(data)}`
}

/** A push's data as JSON (`undefined` as `null`, as the codecs send it). */
function dataText (data: unknown): string {
  return JSON.stringify(data) ?? 'null'
}

const pushes = new Set<string>(['uid', 'uids', 'group', 'all', 'conn', 'kick', 'close'] satisfies Array<PushOp['o']>)

/** True for a push (anything else is a query). */
export function isPush (op: BusOp): op is PushOp {
  return pushes.has(op.o)
}

/** Reads a request's op line: a JSON string is a uid push's uid, anything else an op object. */
export function parseOp (head: string): BusOp {
  if (head.charCodeAt(0) !== 0x22) return JSON.parse(head) as BusOp
  // a JSON string without escapes is its characters between the quotes (anything else, a
  // malformed line included, goes through JSON.parse)
  const plain = head.length >= 2 && head.charCodeAt(head.length - 1) === 0x22 && !head.includes('\\')
  return { o: 'uid', u: plain ? head.slice(1, -1) : JSON.parse(head) as string }
}

/** The body of a notice that `uids` now live on this server. */
export function noticeBody (uids: string[]): Buffer {
  return Buffer.from(JSON.stringify({ o: 'here', u: uids } satisfies UidNotice))
}

/** The uids of a notice, or undefined for a notice of another kind. */
export function parseNotice (body: Buffer): string[] | undefined {
  const n = JSON.parse(body.toString('utf8')) as UidNotice
  return n.o === 'here' && Array.isArray(n.u) ? n.u.map(String) : undefined
}
