import { Model } from '../../framework/index.js'
import type { ChatMessage, NewChatMessage } from '../services/chat.js'

interface Row { id: number | string, room: string, uid: string, name: string, text: string, created_at: Date }

/** Chat history in MySQL (`chat_messages`, created by `sd migrate`). */
export class MessageModel extends Model {
  /** Stores one room message; resolves to its id. */
  async add (msg: NewChatMessage): Promise<number> {
    const [id] = await this.db('chat_messages').insert({ room: msg.room, uid: msg.uid, name: msg.name, text: msg.text })
    return Number(id)
  }

  /** The last `limit` messages of `room`, oldest first. */
  async last (room: string, limit: number): Promise<ChatMessage[]> {
    const rows = await this.read('chat_messages')
      .select('id', 'room', 'uid', 'name', 'text', 'created_at')
      .where({ room })
      .orderBy('id', 'desc')
      .limit(limit) as Row[]
    return rows.reverse().map((r) => ({ id: Number(r.id), room: r.room, uid: r.uid, name: r.name, text: r.text, at: r.created_at.toISOString() }))
  }
}
