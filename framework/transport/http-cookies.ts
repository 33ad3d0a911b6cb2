/**
 * Set-Cookie for replies. @fastify/cookie 11.1.0 (the last release on `cookie` 1, which runs
 * on Node 20; `cookie` 2 wants Node 22) writes the cookies a reply set from an onSend hook only
 * when it also parses on a request hook. SD parses lazily (`hook: false`: no hook on every
 * request), so it adds that one onSend writer itself, as @fastify/cookie ≥ 11.1.1 does.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'

interface PendingCookie { name: string, value: string, opts: Record<string, unknown> }

/** The plugin keeps a reply's pending cookies under a private symbol (a Reply decoration). */
function jarSymbol (reply: FastifyReply): symbol | undefined {
  for (let o: object | null = reply; o !== null; o = Object.getPrototypeOf(o)) {
    const found = Object.getOwnPropertySymbols(o).find((s) => s.description === 'fastify.reply.setCookies')
    if (found !== undefined) return found
  }
  return undefined
}

/** Adds the onSend hook that turns `reply.setCookie` calls into Set-Cookie headers. */
export function addCookieWriter (app: FastifyInstance): void {
  let jar: symbol | undefined
  app.addHook('onSend', (_request, reply, payload, done) => {
    jar ??= jarSymbol(reply)
    const pending = jar === undefined ? undefined : (reply as unknown as Record<symbol, Map<string, PendingCookie> | null>)[jar]
    if (pending && pending.size > 0) {
      const before = reply.getHeader('Set-Cookie')
      const values = before === undefined ? [] : Array.isArray(before) ? [...before] : [String(before)]
      for (const c of pending.values()) values.push(app.serializeCookie(c.name, c.value, c.opts))
      pending.clear()
      reply.header('Set-Cookie', values)
    }
    done(null, payload)
  })
}
