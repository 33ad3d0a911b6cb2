import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, defaultConfig } from '../../framework/index.js'

const configError = (pattern: RegExp) => (err: Error & { code?: string }) => err.code === 'SD_ERR_CONFIG_INVALID' && pattern.test(err.message)

test('defaults are the documented ports and limits', () => {
  const c = defaultConfig()
  assert.equal(c.server.tcp.port, 9093)
  assert.equal(c.server.text.port, 8480)
  assert.equal(c.server.http.port, 8081)
  assert.equal(c.server.tcp.maxFrameBytes, 2 * 1024 * 1024)
  assert.equal(c.server.http.ws.path, '/ws')
})

test('config files, then env, then overrides', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sd-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'server.ts'), 'export default { tcp: { port: 1111 }, text: { port: 2222 }, heartbeatIdleMs: 5 }\n')
  await writeFile(join(dir, 'chat.ts'), 'export default { motd: "hi" }\n')
  const c = await loadConfig({ configDir: dir, env: { SD_TEXT_PORT: '3333', SD_NODE_NAME: 'n1' }, overrides: { server: { heartbeatIdleMs: 7 } } })
  assert.equal(c.server.tcp.port, 1111)
  assert.equal(c.server.text.port, 3333)
  assert.equal(c.server.heartbeatIdleMs, 7)
  assert.equal(c.server.http.port, 8081)
  assert.equal(c.app.nodeName, 'n1')
  assert.deepEqual(c.chat, { motd: 'hi' })
})

test('invalid config fails at boot naming the key', async () => {
  await assert.rejects(loadConfig({ configDir: false, overrides: { server: { tcp: { prot: 1 } } } as never }), configError(/server\.tcp\.prot is not a known option/))
  await assert.rejects(loadConfig({ configDir: false, overrides: { server: { tcp: { port: 70000 } } } }), configError(/server\.tcp\.port must be a port/))
  await assert.rejects(loadConfig({ configDir: false, overrides: { server: { heartbeatIdleMs: '5' } } as never }), configError(/server\.heartbeatIdleMs must be a number/))
  await assert.rejects(loadConfig({ configDir: false, overrides: { server: { tcp: { framing: 'xml' } } } as never }), configError(/server\.tcp\.framing must be one of length, eof/))
  await assert.rejects(loadConfig({ configDir: false, env: { SD_HTTP_PORT: 'abc' } }), configError(/SD_HTTP_PORT must be a port number/))
  await assert.rejects(loadConfig({ configDir: false, overrides: { routes: { '/x': 'nope' } } }), configError(/routes\['\/x'\]/))
  await assert.rejects(loadConfig({ configDir: false, overrides: { server: { http: { ws: { pack: 'text' } } } } as never }), configError(/server\.http\.ws\.pack must be one of json, msgpack/))
  await assert.rejects(loadConfig({ configDir: false, overrides: { app: { render: () => '' } } as never }), configError(/app\.render is not a known option/))
  const ok = await loadConfig({ configDir: false, overrides: { server: { text: { render: String }, pingData: { t: 1 } } } })
  assert.equal(ok.server.text.render, String)
  assert.deepEqual(ok.server.pingData, { t: 1 })
})
