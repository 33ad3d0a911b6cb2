import type { Application } from '../framework/index.js'
import { removeUser, type ChatEvent } from './services/chat.js'

/** Registers the chat's hooks: a user who disconnects is announced to everyone. */
export default function boot (app: Application): void {
  app.addHook('onClose', async (ctx) => {
    const { name, room } = ctx.session
    const uid = ctx.session.uid
    if (typeof name !== 'string' || typeof uid !== 'string') return
    removeUser(uid)
    await ctx.sendToAll({ type: 'leave', uid, name, room: String(room) } satisfies ChatEvent)
  })
}
