import type { Application } from '../framework/index.js'
import { chatStores, useChatStores, type ChatEvent } from './services/chat.js'
import type { TokenConfig } from './services/chat-token.js'
import { BenchLoadController } from './bench/BenchLoadController.js'

/** Chooses where chat state lives, asks telnet users for a nickname and announces users who disconnect. */
export default function boot (app: Application): void {
  const redis = app.data.redis.configured ? app.data.redis.shared : undefined
  useChatStores({ redis, mysql: app.data.mysql.configured, chat: app.config.chat as TokenConfig | undefined })
  // `/bench/bind`, `/bench/push`, … act on other users: only for the benchmark harness (registered
  // under the name BenchController, so its actions are /bench/* next to BenchController's echo and page)
  if (process.env.SD_BENCH === '1') app.addController(BenchLoadController, 'BenchController')
  app.log.info({
    users: redis ? 'redis' : 'memory (Redis off)',
    history: app.data.mysql.configured ? 'mysql (chat_messages; run `sd migrate` once)' : 'memory, last 100 per room (MySQL off)',
  }, 'chat storage')

  // the chat asks telnet users for a nickname (when the text port's lines go to the chat)
  const chatOnText = app.config.server.text.route === '/chat/text'
  // auth on (SD_AUTH_JWT_SECRET): a telnet user sends `/sd/auth <token>` before the nickname
  const authOn = (app as { auth?: unknown }).auth !== undefined
  const greeting = `SD chat. ${authOn ? 'Sign in first: /sd/auth <token> (make one with: npx sd token --sub <uid>). Then your nickname?' : 'Your nickname?'} (then: text for the lobby, <uid>:text for one user, quit to leave)`
  app.addHook('onConnect', (ctx) => {
    if (chatOnText && ctx.transport === 'text') ctx.send(greeting)
  })

  app.addHook('onClose', async (ctx) => {
    const { name, room } = ctx.session
    const uid = ctx.session.uid
    if (typeof name !== 'string' || typeof uid !== 'string') return
    // the same user on another connection (a page that resumed before its old socket's close
    // was seen): still online, nothing to announce
    if (await ctx.isUidOnline(uid).catch(() => false)) return
    await chatStores.users.removeName(uid).catch((err: unknown) => ctx.log.warn({ err }, 'could not forget a chat name'))
    await ctx.sendToGroup(String(room), { type: 'leave', uid, name, room: String(room) } satisfies ChatEvent)
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
