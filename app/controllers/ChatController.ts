import { AppError, Controller } from '../../framework/index.js'
import { MessageModel } from '../models/MessageModel.js'
import { STATS_MESSAGES, StatsTask, type RoomStats } from '../tasks/StatsTask.js'
import { MAX_TOKEN } from '../services/chat-token.js'
import { chatStores, LOBBY, type ChatEvent, type ChatMessage, type ChatUser, type NewChatMessage } from '../services/chat.js'

const MAX_NAME = 32
const MAX_TEXT = 4000
const HISTORY_DEFAULT = 50
const HISTORY_MAX = 200
/** Room messages a telnet user is shown on joining (web users read `/chat/history`). */
const HISTORY_ON_JOIN = 20

/** What login and resume answer. */
export interface LoginReply { uid: string, name: string, room: string, token: string }

/**
 * Room messages and private messages are kept for recovery (`recover: true` per send) so a
 * client on the SDK that reconnects receives what it missed. Chosen per send rather than
 * `recovery.groups: ['*']`: the online count the timer pushes to every room each 10 s, and
 * joins and leaves, are news only while live; recorded, they would crowd the messages out
 * of the history (100 entries per stream by default). Telnet users see no difference.
 */
const KEEP = { recover: true } as const

/**
 * C0 controls, DEL and C1 controls (newlines, escapes: one user could forge lines or drive
 * terminals on telnet screens): removed from names, spaces in text, on every path.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g
/** Bidi overrides and isolates U+202A–U+202E, U+2066–U+2069 (they reorder what others read): removed. */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g

function cleanName (value: unknown): string {
  const name = typeof value === 'string' ? value.replace(CONTROL, '').replace(BIDI, '').trim() : ''
  if (!name || name.length > MAX_NAME) throw new AppError('CHAT_ERR_BAD_NAME', `name must be 1-${MAX_NAME} characters`)
  return name
}

function cleanText (value: unknown): string {
  const text = typeof value === 'string' ? value.replace(CONTROL, ' ').replace(BIDI, '') : ''
  if (text.trim().length === 0 || text.length > MAX_TEXT) {
    throw new AppError('CHAT_ERR_BAD_TEXT', `text must be 1-${MAX_TEXT} characters`)
  }
  return text
}

/** `[HH:MM] name(uid): text`, a stored message as a telnet line (UTC time). */
function historyLine (m: ChatMessage): string {
  const at = new Date(m.at)
  return `[${Number.isNaN(at.getTime()) ? '--:--' : at.toISOString().slice(11, 16)}] ${m.name}(${m.uid}): ${m.text}`
}

/**
 * The chat: telnet users on the text port (`text`), JSON users on TCP and WebSocket
 * (`login`, `say`, `rooms`, `online`, `history`, `stats`), all in the same chat. Actions that
 * speak for a user (`login`, `say`) need a connection that logged in, so HTTP offers only the
 * read-only ones (`history`, `rooms`, `online`, `stats`).
 *
 * With authentication on (SD_AUTH_JWT_SECRET set), `login`, `resume`, `say` and `text` are
 * private: the connection authenticates first (the page's `?token=`, `/sd/auth`, or a telnet
 * line `/sd/auth <token>`) and its uid is the token's `sub`; the name still comes from login.
 * The read-only actions stay public.
 */
export class ChatController extends Controller {
  /** Open to unauthenticated callers when auth is on (the rest needs a token). */
  static public = ['history', 'rooms', 'online', 'stats']

  static transports = {
    text: ['text' as const],
    login: ['tcp' as const, 'ws' as const],
    resume: ['tcp' as const, 'ws' as const],
    say: ['tcp' as const, 'ws' as const],
  }

  /** Checked on every transport before the action runs (`SD_ERR_VALIDATION`); HTTP query strings are coerced. */
  static schemas = {
    history: {
      type: 'object',
      properties: {
        room: { type: 'string', minLength: 1, maxLength: MAX_NAME },
        limit: { type: 'integer', minimum: 1, maximum: HISTORY_MAX, default: HISTORY_DEFAULT },
      },
    },
    resume: {
      type: 'object',
      properties: { token: { type: 'string', minLength: 1, maxLength: MAX_TOKEN } },
      required: ['token'],
    },
  }

  /** The signed-in user of this connection. */
  #me (): ChatUser {
    const name = this.session.name
    if (typeof name !== 'string' || this.uid === undefined) {
      throw new AppError('CHAT_ERR_NOT_LOGGED_IN', 'call /chat/login first')
    }
    return { uid: this.uid, name }
  }

  /** A uid no one has had (see chat.ts): the store's next one, skipping any still online. */
  async #newUid (): Promise<string> {
    for (let tries = 1; ; tries++) {
      const uid = await chatStores.users.nextUid()
      if (tries >= 5 || !(await this.isUidOnline(uid))) return uid
    }
  }

  /** The uid the connection authenticated as (auth on: the token's sub), else undefined. */
  #authUid (): string | undefined {
    const auth = this.session.$auth as { uid?: unknown } | undefined
    return typeof auth?.uid === 'string' ? auth.uid : undefined
  }

  async #signIn (name: string, room: string, given?: string): Promise<ChatUser> {
    const authUid = this.#authUid()
    // authenticated: the token's sub, never a uid from elsewhere (a resume token of another user)
    if (authUid !== undefined && given !== undefined && given !== authUid) {
      throw new AppError('CHAT_ERR_BAD_TOKEN', 'the resume token is for another uid than this connection authenticated as: call /chat/login')
    }
    const uid = authUid ?? given ?? this.uid ?? await this.#newUid()
    const old = this.session.room
    if (typeof old === 'string' && old !== room) await this.leaveGroup(old)
    await this.bindUid(uid)
    await this.joinGroup(room)
    this.session.name = name
    this.session.room = room
    this.session.uid = uid
    await chatStores.users.setName(uid, name)
    // room traffic goes to the room only: a connection that has not logged in gets none
    const join: ChatEvent = { type: 'join', uid, name, room }
    await this.sendToGroup(room, join, { exclude: this.connectionId })
    return { uid, name }
  }

  /**
   * Every line of the text port: the first is the nickname (asked for on connect), then `text`
   * to the lobby or `<uid>:text` to one user; `quit` ends the session.
   */
  async text (line: string): Promise<string | undefined> {
    const command = line.trim()
    if (command === 'quit' || command === '/quit') {
      this.send('bye')
      this.close()
      return undefined
    }
    if (typeof this.session.name !== 'string') {
      if (!command) return 'please enter a nickname'
      const me = await this.#signIn(cleanName(command), LOBBY)
      this.send(`welcome ${me.name}, your uid is ${me.uid}`)
      const past = await this.#recent(LOBBY, HISTORY_ON_JOIN)
      for (const m of past) this.send(historyLine(m))
      return undefined
    }
    if (command === '') return undefined
    const me = this.#me()
    const direct = /^(\d+):(.*)$/.exec(line)
    if (direct) {
      const to = direct[1]
      const sent = await this.sendToUid(to, { type: 'say', from: me, text: cleanText(direct[2]), private: true } satisfies ChatEvent, KEEP)
      return sent > 0 ? undefined : `uid ${to} is not online`
    }
    const text = cleanText(line)
    await this.#remember({ room: LOBBY, uid: me.uid, name: me.name, text })
    await this.sendToGroup(LOBBY, { type: 'say', from: me, text, room: LOBBY } satisfies ChatEvent, { ...KEEP, exclude: this.connectionId })
    return undefined
  }

  /** The last `limit` messages of `room`; a history store that is down gives none (the chat goes on). */
  async #recent (room: string, limit: number): Promise<ChatMessage[]> {
    try {
      return await (chatStores.historyInMysql ? this.model(MessageModel) : chatStores.history).last(room, limit)
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'chat history not read')
      return []
    }
  }

  /**
   * `{name, room?}` → binds a uid, joins the room; answers `{uid, name, room, token}`, the
   * token for `/chat/resume` after a reconnect.
   */
  async login (data: { name?: unknown, room?: unknown } | undefined): Promise<LoginReply> {
    const name = cleanName(data?.name)
    const room = data?.room === undefined ? LOBBY : cleanName(data.room)
    const me = await this.#signIn(name, room)
    return { ...me, room, token: await chatStores.tokens.sign({ ...me, room }) }
  }

  /**
   * `{token}` (from login or an earlier resume) → the same uid, name and room again, answered
   * like login (with a fresh token); `CHAT_ERR_BAD_TOKEN` when the token is forged, expired or
   * signed with another secret (a restarted server without a shared one): log in again then.
   */
  async resume (data: { token: string }): Promise<LoginReply> {
    const claims = await chatStores.tokens.verify(data.token)
    if (!claims) throw new AppError('CHAT_ERR_BAD_TOKEN', 'token is invalid or expired: call /chat/login')
    const name = cleanName(claims.name)
    const room = cleanName(claims.room)
    const me = await this.#signIn(name, room, claims.uid)
    return { ...me, room, token: await chatStores.tokens.sign({ ...me, room }) }
  }

  /**
   * Keeps a room message in the history (MySQL through `MessageModel`, or memory). A store
   * that is down does not stop the chat: the message is still delivered and the reply says
   * `stored: false`.
   */
  async #remember (msg: NewChatMessage): Promise<boolean> {
    try {
      await (chatStores.historyInMysql ? this.model(MessageModel) : chatStores.history).add(msg)
      return true
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'chat message not stored')
      return false
    }
  }

  /** `{to?, text}` → to one uid (not kept), or to the caller's room (kept in the history); answers `{delivered, stored}`. */
  async say (data: { to?: unknown, text?: unknown } | undefined): Promise<{ delivered: number, stored: boolean }> {
    const me = this.#me()
    const text = cleanText(data?.text)
    if (data?.to !== undefined && data.to !== null && data.to !== '') {
      const delivered = await this.sendToUid(String(data.to), { type: 'say', from: me, text, private: true } satisfies ChatEvent, KEEP)
      return { delivered, stored: false }
    }
    const room = typeof this.session.room === 'string' ? this.session.room : LOBBY
    const stored = await this.#remember({ room, uid: me.uid, name: me.name, text })
    const delivered = await this.sendToGroup(room, { type: 'say', from: me, text, room } satisfies ChatEvent, { ...KEEP, exclude: this.connectionId })
    return { delivered, stored }
  }

  /** `{room?, limit?}` → the last `limit` (default 50, at most 200) messages of the room, oldest first. */
  async history (data: { room?: string, limit: number }): Promise<ChatMessage[]> {
    const room = data.room === undefined ? (typeof this.session.room === 'string' ? this.session.room : LOBBY) : cleanName(data.room)
    const limit = data.limit
    return (chatStores.historyInMysql ? this.model(MessageModel) : chatStores.history).last(room, limit)
  }

  /** `{room?}` → statistics of the room's history (messages per user, top words), computed in a worker thread by `StatsTask`. */
  async stats (data: { room?: unknown } | undefined): Promise<RoomStats> {
    const room = data?.room === undefined ? (typeof this.session.room === 'string' ? this.session.room : LOBBY) : cleanName(data.room)
    if (chatStores.historyInMysql) return this.task(StatsTask).fromHistory(room)
    return this.task(StatsTask).build(room, await chatStores.history.last(room, STATS_MESSAGES))
  }

  /** Rooms with their connection counts. */
  async rooms (): Promise<Array<{ room: string, count: number }>> {
    const names = await this.groups()
    return Promise.all(names.map(async (room) => ({ room, count: await this.groupCount(room) })))
  }

  /** `{room?}` → how many users are online and who is in the room (uids and names). */
  async online (data: { room?: unknown } | undefined): Promise<{ count: number, room: string, uids: string[], users: ChatUser[] }> {
    const room = typeof data?.room === 'string' ? data.room : typeof this.session.room === 'string' ? this.session.room : LOBBY
    const uids = await this.groupMembers(room)
    const names = await chatStores.users.names(uids)
    return { count: await this.onlineCount(), room, uids, users: uids.map((uid, i) => ({ uid, name: names[i] ?? '' })) }
  }
}
