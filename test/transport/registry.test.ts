import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type AddressInfo } from 'node:net'
import { Controller, defaultConfig, loadConfig, registerTransport, type SocketPortConfig } from '../../framework/index.js'
import { socketPortDefaults } from '../../framework/transport/options.js'
import { transportEntries, transportNames, unregisterTransport } from '../../framework/transport/registry.js'
import { TcpTransport } from '../../framework/transport/tcp-transport.js'
import { freePort } from '../free-port.js'
import { startApp, TcpClient, waitUntil } from '../helpers.js'

// a new transport is one file: its name, its options' key, and one registration
// (augmented through the public entry, as docs/transports.md shows an app doing it)
declare module '../../framework/index.js' {
  interface TransportNames { fake: true }
  interface TransportPortOptions { fake: SocketPortConfig }
}

/** A fake transport: a second length-framed JSON port under its own name. */
function registerFake (t: { after: (fn: () => unknown) => void }): void {
  registerTransport<SocketPortConfig>({
    key: 'fake',
    names: ['fake'],
    envPort: 'SD_FAKE_PORT',
    defaults: () => socketPortDefaults(9777, 'length', 'json', 64 * 1024),
    create: (host, options) => [new TcpTransport(host, 'fake', options)],
  })
  t.after(() => unregisterTransport('fake'))
}

class EchoController extends Controller {
  where (): unknown { return { transport: this.transport } }
}

test('the built-in transports are registered: tcp, text, http (with ws)', () => {
  assert.deepEqual(transportEntries().map((e) => [e.key, e.envPort]), [['tcp', 'SD_TCP_PORT'], ['text', 'SD_TEXT_PORT'], ['http', 'SD_HTTP_PORT']])
  assert.deepEqual(transportNames(), ['tcp', 'text', 'http', 'ws'])
})

test('a registered transport gets config defaults, checked keys, its env port and SD_HOST', async (t) => {
  registerFake(t)
  assert.equal(defaultConfig().server.fake.port, 9777)
  assert.throws(() => registerTransport({ ...transportEntries()[0] }), /already registered/)
  const c = await loadConfig({ configDir: false, env: { SD_FAKE_PORT: '4321', SD_HOST: '127.0.0.2' } })
  assert.equal(c.server.fake.port, 4321)
  assert.equal(c.server.fake.host, '127.0.0.2')
  await assert.rejects(loadConfig({ configDir: false, env: { SD_FAKE_PORT: 'x' } }), /SD_FAKE_PORT must be a port number/)
  await assert.rejects(loadConfig({ configDir: false, overrides: { server: { fake: { prot: 1 } } } as never }), /server\.fake\.prot is not a known option/)
})

test('a registered transport is started on its env port, routed, counted in stats and in the ports', async (t) => {
  registerFake(t)
  const port = await freePort()
  const app = await startApp({ server: { fake: { host: '127.0.0.1' } } }, { controllers: [EchoController], env: { ...process.env, SD_FAKE_PORT: String(port) } })
  t.after(() => app.stop())
  assert.equal(app.address('fake')?.port, port)
  assert.equal(app.ports().fake, port)
  const c = await TcpClient.connect(port)
  t.after(() => c.close())
  assert.deepEqual((await c.request('/echo/where')).data, { transport: 'fake' })
  await waitUntil(() => app.stats().connections.fake === 1, 3000, 'the fake connection counted')
  assert.equal(app.stats().connections.tcp, undefined)
})

test('a registered transport whose port is taken fails the start naming its env variable and config key', async (t) => {
  registerFake(t)
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.after(() => taken.close())
  const port = (taken.address() as AddressInfo).port
  await assert.rejects(
    startApp({ server: { fake: { host: '127.0.0.1' } } }, { controllers: [EchoController], env: { ...process.env, SD_FAKE_PORT: String(port) } }),
    (err: Error & { code?: string }) => err.code === 'SD_ERR_PORT_IN_USE' && /fake port .*SD_FAKE_PORT or server\.fake\.port/.test(err.message),
  )
})
