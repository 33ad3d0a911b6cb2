/**
 * Chat state and message shapes shared by the chat controller, the text-port renderer and the
 * boot hooks. Where state lives is chosen once at boot (`useChatStores`): uids and names in
 * Redis when it is configured, else in this process; history in MySQL (`MessageModel`) when
 * it is configured, else the last messages of each room in memory.
 */
import type { RedisClient } from '../../framework/index.js'

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

/** Where uids come from and names are kept. */
export interface UserStore {
  nextUid (): Promise<string>
  setName (uid: string, name: string): Promise<void>
  removeName (uid: string): Promise<void>
  names (uids: string[]): Promise<Array<string | undefined>>
}

/**
 * Uids and names in this process. With `--workers N` (and no Redis) each worker hands out
 * its own residue class (worker 2 of 4: 2, 6, 10…) so uids never collide between workers.
 */
export class MemoryUsers implements UserStore {
  #last = 0
  readonly #names = new Map<string, string>()
  readonly #workers = Math.max(1, Number(process.env.SD_WORKERS ?? 1) || 1)
  readonly #slot = Math.max(1, Number(process.env.SD_WORKER_SLOT ?? 1) || 1)
  /** A worker that replaces another (reload, crash) starts past the uids its predecessor may still hold. */
  readonly #base = (Number(process.env.SD_WORKER_GENERATION ?? 0) || 0) * 100_000
  async nextUid (): Promise<string> { return String((this.#base + this.#last++) * this.#workers + this.#slot) }
  async setName (uid: string, name: string): Promise<void> { this.#names.set(uid, name) }
  async removeName (uid: string): Promise<void> { this.#names.delete(uid) }
  async names (uids: string[]): Promise<Array<string | undefined>> { return uids.map((u) => this.#names.get(u)) }
}

/** Uids from one Redis counter and names in one hash, shared by every process of the app. */
export class RedisUsers implements UserStore {
  readonly #redis: RedisClient
  constructor (redis: RedisClient) { this.#redis = redis }
  async nextUid (): Promise<string> { return String(await this.#redis.incr('chat:uid')) }
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
export const chatStores: { users: UserStore, history: MemoryHistory, historyInMysql: boolean } = {
  users: new MemoryUsers(),
  history: new MemoryHistory(),
  historyInMysql: false,
}

/** Chooses the stores: Redis for users when given, MySQL for history when on. */
export function useChatStores (options: { redis?: RedisClient, mysql: boolean }): void {
  chatStores.users = options.redis ? new RedisUsers(options.redis) : new MemoryUsers()
  chatStores.history = new MemoryHistory()
  chatStores.historyInMysql = options.mysql
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
    default: return JSON.stringify(data) ?? ''
  }
}
