/**
 * The built-in controller of the SDK's paths (client/wire.ts): `/sd/hello` marks the connection
 * as an SDK client, `/sd/recover` answers missed pushes of the streams the connection may read,
 * `/sd/ack` acknowledges a push, `/sd/auth` authenticates the connection (auth.ts). TCP and
 * WebSocket only (`/sd/auth` also on the text port, as a line `/sd/auth <token>`).
 */
import { MAX_STREAM_NAME, type AuthReply, type HelloReply, type RecoverReply, type RecoveredStream, type RecoverRequest, type StreamPosition } from '../client/wire.js'
import type { TransportName } from '../core/contract.js'
import type { ControllerClass } from '../core/controller.js'
import { jsonLength } from '../connection/memory-history.js'
import { SdError } from '../core/errors.js'
import type { Auth } from './auth.js'
import { Controller } from './controller.js'

/** Most streams one `/sd/recover` may name. */
export const MAX_RECOVER_STREAMS = 64
/** Most entries one `/sd/recover` reply carries (64 streams × maxCount would be far more); the rest in later requests. */
export const MAX_RECOVER_ENTRIES = 1000
/** Data (JSON text) one `/sd/recover` reply carries at most, past its first entry; the rest in later requests. */
export const MAX_RECOVER_BYTES = 1024 * 1024
/** Longest ack id `/sd/ack` takes (longer ones are ignored). */
export const MAX_ACK_ID = 128

const socketOnly: TransportName[] = ['tcp', 'ws']

const recoverSchema = {
  type: 'object',
  required: ['streams'],
  additionalProperties: false,
  properties: {
    streams: {
      type: 'object',
      maxProperties: MAX_RECOVER_STREAMS,
      propertyNames: { maxLength: MAX_STREAM_NAME },
      additionalProperties: {
        type: 'object',
        required: ['epoch', 'offset'],
        additionalProperties: false,
        properties: {
          epoch: { type: 'string', maxLength: 64 },
          offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        },
      },
    },
  },
}

/** What the controller needs of the application's recovery (server/recovery.ts). */
export interface SdPaths {
  /** This process keeps history. */
  readonly active: boolean
  /** What `stream` holds after `since`: at most `limit` entries and, past the first, `maxBytes` of data. */
  recover (stream: string, since: StreamPosition, limit: number, maxBytes: number): Promise<RecoveredStream>
  /** Counts an acknowledgement of a connection bound to `uid` (here, or at the process that sent the push). */
  ack (ackId: string, connectionId: string, uid: string): void
  /** Whether a connection of this process is in `group`; undefined when it is not held here. */
  isMember (connectionId: string, group: string): boolean | undefined
}

/** The token of `/sd/auth`'s data: `{token}` (tcp, ws) or the line's text (text port). */
function tokenOf (data: unknown): unknown {
  if (typeof data === 'string') return data.trim()
  return typeof data === 'object' && data !== null ? (data as { token?: unknown }).token : undefined
}

/** The `/sd/*` controller of one application (a class per app: it reads that app's recovery and auth). */
export function sdController (recovery: SdPaths, auth?: Auth): ControllerClass {
  return class SdController extends Controller {
    static transports = { hello: socketOnly, recover: socketOnly, ack: socketOnly, ping: socketOnly, auth: ['tcp', 'ws', 'text'] as TransportName[] }
    /** Callable before authentication once auth is on. */
    static public = ['hello', 'auth', 'ping']
    static schemas = {
      hello: { type: 'object', required: ['v'], properties: { v: { type: 'integer', minimum: 1 } } },
      recover: recoverSchema,
    }

    /** `{v: 1}` → `{v: 1, node, recovery}`; sync messages go to this connection from now on. */
    hello (): HelloReply {
      this.session.$sd = 1
      const config = this.config
      // a split worker's connections are a gateway's: their ids start with its node name
      const id = this.connectionId ?? ''
      const node = config.gateway.role === 'worker' && id.includes('.') ? id.slice(0, id.lastIndexOf('.')) : config.app.nodeName
      return { v: 1, node, recovery: recovery.active }
    }

    /**
     * Missed pushes of the streams this connection may read; the others listed in `denied`. One
     * reply carries at most MAX_RECOVER_ENTRIES entries and about MAX_RECOVER_BYTES of data
     * (a tiny request must not make a huge reply): streams answered once it is full are listed
     * in `more`, a stream reached mid-way is cut short; the client asks again for both.
     */
    async recover (): Promise<RecoverReply> {
      const { streams } = this.data as RecoverRequest
      const named = Object.entries(streams)
      const readable = await Promise.all(named.map(([name]) => this.#mayRead(name)))
      const denied: string[] = []
      const more: string[] = []
      const answers: Array<[string, RecoveredStream]> = []
      let entries = MAX_RECOVER_ENTRIES
      let bytes = MAX_RECOVER_BYTES
      // one stream after the other: each takes what the ones before left of the budget
      for (let i = 0; i < named.length; i++) {
        const [name, since] = named[i]
        if (!readable[i]) denied.push(name)
        else if (entries <= 0 || bytes <= 0) more.push(name)
        else {
          const rs = await recovery.recover(name, since, entries, bytes)
          entries -= rs.entries.length
          for (const e of rs.entries) bytes -= jsonLength(e.data)
          answers.push([name, rs])
        }
      }
      // fromEntries defines own properties: a stream named __proto__ stays data
      const reply: RecoverReply = { streams: Object.fromEntries(answers), denied }
      if (more.length > 0) reply.more = more
      return reply
    }

    /** `{token}` → `{uid, exp}` (exp: ms since the epoch, or null): authenticates this connection, or refreshes an expired token. */
    async auth (): Promise<AuthReply> {
      if (auth === undefined) throw new SdError('SD_ERR_ROUTE_NOT_FOUND', '/sd/auth (authentication is off)')
      const conn = { session: this.session, uid: this.uid, transport: this.transport }
      return await auth.authenticate(tokenOf(this.data), conn, (uid) => this.bindUid(uid))
    }

    /** The client's heartbeat (sent without id): the message itself is the activity the idle check looks for. */
    ping (): void {}

    /**
     * `{ack}` (sent without id): counts this connection's acknowledgement; malformed ones, and
     * any from a connection bound to no uid (acks go with uid pushes only), are ignored.
     */
    ack (): void {
      const data = this.data as { ack?: unknown } | null
      const ack = typeof data === 'object' && data !== null ? data.ack : undefined
      const uid = this.uid
      if (typeof ack !== 'string' || ack.length > MAX_ACK_ID || this.connectionId === undefined || uid === undefined) return
      recovery.ack(ack, this.connectionId, String(uid))
    }

    /** `uid:X` while bound to X; `group:G` while in G (a split worker sees no groups: members by uid). */
    async #mayRead (stream: string): Promise<boolean> {
      if (stream.startsWith('uid:')) return this.uid !== undefined && stream.slice(4) === this.uid
      if (!stream.startsWith('group:')) return false
      const group = stream.slice(6)
      const inGroup = this.connectionId === undefined ? undefined : recovery.isMember(this.connectionId, group)
      if (inGroup !== undefined) return inGroup
      if (this.config.gateway.role !== 'worker' || this.uid === undefined) return false
      return (await this.groupMembers(group)).includes(this.uid)
    }
  }
}
