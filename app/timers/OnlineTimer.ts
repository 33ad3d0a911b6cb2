import { Timer } from '../../framework/index.js'
import type { ChatEvent } from '../services/chat.js'

/**
 * Tells every chat room how many users are online. `config/timers.ts` runs `push` every 10 s,
 * once per tick across the cluster (not once per node).
 */
export class OnlineTimer extends Timer {
  async push (): Promise<void> {
    const event: ChatEvent = { type: 'online', count: await this.onlineCount() }
    const rooms = await this.groups()
    await Promise.all(rooms.map((room) => this.sendToGroup(room, event)))
  }
}
