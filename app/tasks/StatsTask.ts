import { Task } from '../../framework/index.js'
import { MessageModel } from '../models/MessageModel.js'
import type { ChatMessage } from '../services/chat.js'

/** Most messages of a room that `/chat/stats` looks at (the newest ones). */
export const STATS_MESSAGES = 5000

/** Statistics of a room, as `/chat/stats` returns them. */
export interface RoomStats {
  room: string
  /** Messages looked at. */
  messages: number
  /** Words in them (letters and digits; `don't` and `e-mail` are one word). */
  words: number
  /** Different words, case-insensitive. */
  distinctWords: number
  /** Most used words (case-insensitive, common English words left out), most used first. */
  topWords: Array<{ word: string, count: number }>
  /** Per user, most messages first. */
  users: Array<{ uid: string, name: string, messages: number, words: number }>
  /** Oldest and newest message times (ISO), absent for an empty room. */
  first?: string
  last?: string
}

const WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu
const COMMON = new Set(('a an and are as at be but by do for from have he i if in is it me my no not of on or ' +
  'so that the this to was we with you your').split(' '))

/** Chat statistics: tokenizing and counting every word of a room's history is CPU work, done in a worker thread. */
export class StatsTask extends Task {
  /** Statistics of `messages` (the room's history, oldest first). */
  build (room: string, messages: ChatMessage[], top = 10): RoomStats {
    const counts = new Map<string, number>()
    const users = new Map<string, { uid: string, name: string, messages: number, words: number }>()
    let words = 0
    for (const m of messages) {
      const found = m.text.toLowerCase().match(WORD) ?? []
      words += found.length
      for (const w of found) counts.set(w, (counts.get(w) ?? 0) + 1)
      const user = users.get(m.uid) ?? { uid: m.uid, name: m.name, messages: 0, words: 0 }
      user.name = m.name
      user.messages++
      user.words += found.length
      users.set(m.uid, user)
    }
    const topWords = [...counts]
      .filter(([w]) => !COMMON.has(w))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, top)
      .map(([word, count]) => ({ word, count }))
    return {
      room,
      messages: messages.length,
      words,
      distinctWords: counts.size,
      topWords,
      users: [...users.values()].sort((a, b) => b.messages - a.messages || a.uid.localeCompare(b.uid)),
      first: messages[0]?.at,
      last: messages.at(-1)?.at,
    }
  }

  /** Reads the newest `limit` messages of `room` from MySQL (this worker's own connection), then `build`s. */
  async fromHistory (room: string, limit = STATS_MESSAGES, top = 10): Promise<RoomStats> {
    return this.build(room, await this.model(MessageModel).last(room, limit), top)
  }
}
