/** Start a gateway app and business worker apps in this process, on real sockets (ports 0). */
import { createApp, Controller, type Application, type ConfigInput } from '../../framework/index.js'
import { root, testOverrides } from '../helpers.js'

/** The links' secret of these tests. */
export const secret = 'gateway-test-secret-0123456789'

/** Starts a gateway (no application code) with every client port on 127.0.0.1:0 and its link port on 0. */
export async function startGateway (gateway: NonNullable<ConfigInput['gateway']> = {}, extra: ConfigInput = {}): Promise<Application> {
  const app = await createApp({ root, configDir: false, overrides: testOverrides({ ...extra, app: { nodeName: `gw${process.pid}`, ...extra.app }, gateway: { role: 'gateway', host: '127.0.0.1', port: 0, secret, ...gateway } }) })
  await app.start()
  return app
}

/** The gateway's link port. */
export function linkPort (gateway: Application): number {
  const port = gateway.ports().gateway
  if (port === undefined) throw new Error('the gateway has no link port')
  return port
}

/** Makes (and with `start`, starts) a worker linked to `gateway`. */
export async function startWorker (gateway: Application, name: string, controllers: Array<typeof Controller>, options: { boot?: (app: Application) => void, start?: boolean, extra?: ConfigInput } = {}): Promise<Application> {
  const extra = options.extra ?? {}
  const app = await createApp({
    root,
    configDir: false,
    controllers,
    boot: options.boot ?? (() => {}),
    overrides: { ...extra, app: { logLevel: 'silent', nodeName: name }, gateway: { role: 'worker', addresses: [`127.0.0.1:${linkPort(gateway)}`], secret, ...extra.gateway } },
  })
  if (options.start !== false) await app.start()
  return app
}
