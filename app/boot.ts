import type { Application } from '../framework/index.js'
import { chatStores, useChatStores, type ChatEvent } from './services/chat.js'

/** Chooses where chat state lives and announces users who disconnect. */
export default function boot (app: Application): void {
  const redis = app.data.redis.configured ? app.data.redis.shared : undefined
  useChatStores({ redis, mysql: app.data.mysql.configured })
  app.log.info({
    users: redis ? 'redis' : 'memory (Redis off)',
    history: app.data.mysql.configured ? 'mysql (chat_messages; run `sd migrate` once)' : 'memory, last 100 per room (MySQL off)',
  }, 'chat storage')

  app.addHook('onClose', async (ctx) => {
    const { name, room } = ctx.session
    const uid = ctx.session.uid
    if (typeof name !== 'string' || typeof uid !== 'string') return
    await chatStores.users.removeName(uid).catch((err: unknown) => ctx.log.warn({ err }, 'could not forget a chat name'))
    await ctx.sendToAll({ type: 'leave', uid, name, room: String(room) } satisfies ChatEvent)
  })

  // cluster: users of a server that died had no close here; one server announces them (room unknown)
  app.addHook('onNodeGone', async (_app, { uids }) => {
    const names = await chatStores.users.names(uids).catch(() => [] as Array<string | undefined>)
    for (const [i, uid] of uids.entries()) {
      const name = names[i]
      if (name === undefined) continue
      await chatStores.users.removeName(uid).catch(() => {})
      await app.bus.sendToAll({ type: 'leave', uid, name, room: '' } satisfies ChatEvent)
    }
  })
}
