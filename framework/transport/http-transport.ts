/**
 * The HTTP port on fastify: every route the router knows is registered with fastify
 * (`GET|POST /name/method` and the custom rules), so matching stays in fastify's radix tree.
 * Unknown paths and fastify's own errors are mapped to SD error codes.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { HttpConfig } from '../core/config.js'
import { SdError, type ErrorBody } from '../core/errors.js'
import type { ListenAddress, Transport, TransportHost } from './transport.js'
import { WsTransport } from './ws-transport.js'

/** Maps an error fastify raised (body parsing, limits) to an SD error. */
export function fromFastifyError (err: FastifyError): SdError | undefined {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new SdError('SD_ERR_BODY_TOO_LARGE', err.message)
  if (err.code?.startsWith('FST_ERR_CTP_') || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
    return new SdError('SD_ERR_BAD_MESSAGE', err.message)
  }
  return undefined
}

/** The HTTP transport (and, when enabled, the WebSocket endpoint on the same port). */
export class HttpTransport implements Transport {
  readonly name = 'http' as const
  readonly #host: TransportHost
  readonly #config: HttpConfig
  readonly ws: WsTransport | undefined
  #app: FastifyInstance | undefined

  constructor (host: TransportHost, config: HttpConfig) {
    this.#host = host
    this.#config = config
    this.ws = config.ws.enabled ? new WsTransport(host, config.ws) : undefined
  }

  async start (): Promise<void> {
    const host = this.#host
    const app = Fastify({ bodyLimit: this.#config.bodyLimitBytes, logger: false, return503OnClosing: true })
    this.#app = app
    this.ws?.attach(app.server, () => this.address())
    for (const rule of host.httpRules()) {
      const match = { route: rule.route, params: {} }
      const dynamic = rule.path.includes(':') || rule.path.includes('*')
      app.route({
        method: rule.methods,
        url: rule.path,
        handler: (request, reply) => {
          host.dispatchHttp(dynamic ? { route: rule.route, params: request.params as Record<string, string> } : match, rule.path, request, reply)
        },
      })
    }
    app.setNotFoundHandler((request, reply) => {
      const err = new SdError('SD_ERR_ROUTE_NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`)
      void reply.code(err.status).send({ error: err.toJSON() })
    })
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      const mapped = fromFastifyError(error)
      if (!mapped) host.log.error({ err: error }, 'http error')
      const err = mapped ?? new SdError('SD_ERR_INTERNAL')
      const body: ErrorBody = err.toJSON()
      void reply.code(mapped ? (error.statusCode ?? err.status) : err.status).send({ error: body })
    })
    await app.listen({ port: this.#config.port, host: this.#config.host })
  }

  address (): ListenAddress | undefined {
    const addr = this.#app?.server.address()
    return addr && typeof addr === 'object' ? { host: addr.address, port: addr.port } : undefined
  }

  async stopAccepting (): Promise<void> {}

  async close (): Promise<void> {
    await this.ws?.close()
    await this.#app?.close()
  }
}
