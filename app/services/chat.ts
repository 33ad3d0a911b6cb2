/**
 * Chat state and message shapes shared by the chat controller, the text-port renderer and the
 * boot hooks. Where state lives is chosen once at boot (`useChatStores`): uids and names in
 * Redis when it is configured, else in this process; history in MySQL (`MessageModel`) when
 * it is configured, else the last messages of each room in memory.
 */
import type { RedisClient } from '../../framework/index.js'
import { chatTokensFor, type ChatTokens, type TokenConfig } from './chat-token.js'

/** The room everyone starts in (telnet users stay in it). */
export const LOBBY = 'lobby'

/** A chat user as other clients see it. */
export interface ChatUser {
  uid: string
  name: string
}

/** A room message to store. */
export interface NewChatMessage {
  room: string
  uid: string
  name: string
  text: string
}

/** A stored room message, as `/chat/history` returns it. */
export interface ChatMessage extends NewChatMessage {
  id: number
  /** ISO time it was stored. */
  at: string
}

/** Pushes the chat sends; JSON clients receive these objects, telnet clients a rendered line. */
export type ChatEvent =
  | { type: 'join', uid: string, name: string, room: string }
  | { type: 'leave', uid: string, name: string, room: string }
  | { type: 'say', from: ChatUser, text: string, room?: string, private?: boolean }
  | { type: 'online', count: number }
  /** From another back end through the admin listener's POST /sd/publish (README). */
  | { type: 'notice', text: string }

/** Where uids come from and names are kept. */
export interface UserStore {
  nextUid (): Promise<string>
  setName (uid: string, name: string): Promise<void>
  removeName (uid: string): Promise<void>
  names (uids: string[]): Promise<Array<string | undefined>>
}

/**
 * Uids are short decimal numbers that never repeat: each is at least the number of seconds
 * since 2026-12-01 (the clock floor, ~2.6 million per month) and greater than the last one
 * handed out. A store that lost its counter (Redis flushed or restarted empty, a process
 * restarted, a worker replaced by `sd reload`) starts again at the clock, past every uid given
 * before, instead of at 1. Digits only, so `<uid>:text` on the telnet port stays easy to type.
 * The limit: a repeat needs a counter that ran ahead of the clock (more logins than seconds
 * since it started) and lost at that moment; the chat also skips a uid still online.
 */
export const UID_EPOCH_MS = Date.UTC(2026, 11, 1)

/** The clock floor under new uids: whole seconds since `UID_EPOCH_MS`. */
export function uidClock (nowMs = Date.now()): number {
  return Math.max(1, Math.floor((nowMs - UID_EPOCH_MS) / 1000))
}

/** Where this worker's uids come from without Redis (read from the env `sd start` sets). */
export interface UidSpace {
  /** Worker processes (`SD_WORKERS`). @default 1 */
  workers: number
  /** This worker's slot, 1-based (`SD_WORKER_SLOT`). @default 1 */
  slot: number
  /** Forks into this slot so far (`SD_WORKER_GENERATION`); absent when not under `sd start --workers`. */
  generation?: number
}

function uidSpaceFromEnv (): UidSpace {
  const gen = process.env.SD_WORKER_GENERATION
  return {
    workers: Math.max(1, Number(process.env.SD_WORKERS ?? 1) || 1),
    slot: Math.max(1, Number(process.env.SD_WORKER_SLOT ?? 1) || 1),
    generation: gen === undefined ? undefined : Number(gen) || 0,
  }
}

/**
 * Uids and names in this process. Uids follow the clock floor; with `--workers N` (and no
 * Redis) each worker takes its own residue class modulo 2N, by slot and by the parity of its
 * generation, so workers never collide, nor does a worker replaced by `sd reload` with the one
 * still draining (uids stay near the clock: no jump to 200001).
 */
export class MemoryUsers implements UserStore {
  #last = 0
  readonly #names = new Map<string, string>()
  readonly #classes: number
  readonly #residue: number
  constructor (space: UidSpace = uidSpaceFromEnv()) {
    const managed = space.generation !== undefined
    this.#classes = managed ? space.workers * 2 : 1
    this.#residue = managed ? ((space.generation ?? 0) % 2) * space.workers + space.slot - 1 : 0
  }

  async nextUid (): Promise<string> {
    let v = Math.max(this.#last + 1, uidClock())
    v += (this.#residue - (v % this.#classes) + this.#classes) % this.#classes
    this.#last = v
    return String(v)
  }

  async setName (uid: string, name: string): Promise<void> { this.#names.set(uid, name) }
  async removeName (uid: string): Promise<void> { this.#names.delete(uid) }
  async names (uids: string[]): Promise<Array<string | undefined>> { return uids.map((u) => this.#names.get(u)) }
}

/** INCR that never goes below ARGV[1] (the clock floor, or past what this process handed out). */
const NEXT_UID = `local v = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if v < floor then redis.call('SET', KEYS[1], floor) v = floor end
return v`

/**
 * Uids from one Redis counter and names in one hash, shared by every process of the app. The
 * counter never goes below the clock floor nor below what this process handed out last, so a
 * Redis that restarted empty does not give out the uids of users still online.
 */
export class RedisUsers implements UserStore {
  readonly #redis: RedisClient
  #last = 0
  constructor (redis: RedisClient) { this.#redis = redis }
  async nextUid (): Promise<string> {
    const v = Number(await this.#redis.eval(NEXT_UID, 1, 'chat:uid', Math.max(uidClock(), this.#last + 1)))
    if (v > this.#last) this.#last = v
    return String(v)
  }

  async setName (uid: string, name: string): Promise<void> { await this.#redis.hset('chat:names', uid, name) }
  async removeName (uid: string): Promise<void> { await this.#redis.hdel('chat:names', uid) }
  async names (uids: string[]): Promise<Array<string | undefined>> {
    if (uids.length === 0) return []
    return (await this.#redis.hmget('chat:names', ...uids)).map((n) => n ?? undefined)
  }
}

/** The last messages of each room, in this process (when MySQL is off). */
export class MemoryHistory {
  readonly #rooms = new Map<string, ChatMessage[]>()
  readonly #keep: number
  #id = 0
  constructor (keep = 100) { this.#keep = keep }

  async add (msg: NewChatMessage): Promise<number> {
    const list = this.#rooms.get(msg.room) ?? []
    const id = ++this.#id
    list.push({ ...msg, id, at: new Date().toISOString() })
    if (list.length > this.#keep) list.shift()
    this.#rooms.set(msg.room, list)
    return id
  }

  async last (room: string, limit: number): Promise<ChatMessage[]> {
    return (this.#rooms.get(room) ?? []).slice(-limit)
  }
}

/** Where this process keeps chat state (set by `useChatStores` at boot). */
export const chatStores: { users: UserStore, history: MemoryHistory, historyInMysql: boolean, tokens: ChatTokens } = {
  users: new MemoryUsers(),
  history: new MemoryHistory(),
  historyInMysql: false,
  tokens: chatTokensFor(undefined, undefined),
}

/** Chooses the stores: Redis for users (and the token secret) when given, MySQL for history when on. */
export function useChatStores (options: { redis?: RedisClient, mysql: boolean, chat?: TokenConfig }): void {
  chatStores.users = options.redis ? new RedisUsers(options.redis) : new MemoryUsers()
  chatStores.history = new MemoryHistory()
  chatStores.historyInMysql = options.mysql
  chatStores.tokens = chatTokensFor(options.chat, options.redis)
}

/** Renders a chat event as one telnet line (the text port's `render`). */
export function renderLine (data: unknown): string {
  if (typeof data === 'string') return data
  const ev = data as ChatEvent
  switch (ev?.type) {
    case 'join': return `${ev.name}(${ev.uid}) joined ${ev.room}`
    case 'leave': return `${ev.name}(${ev.uid}) left`
    case 'say': return `${ev.from.name}(${ev.from.uid}) says${ev.private ? ' to you' : ''}: ${ev.text}`
    case 'online': return `online: ${ev.count}`
    case 'notice': return `notice: ${String(ev.text)}`
    default: return JSON.stringify(data) ?? ''
  }
}
