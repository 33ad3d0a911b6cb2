/**
 * "The commands they run start the same processes outside a container": the rendered
 * compose.yaml's sd services are run as real processes of the demo app, each with its compose
 * `command` behind the Dockerfile's ENTRYPOINT and its compose `environment`, mapped to this
 * machine: service names and 0.0.0.0 → 127.0.0.1, every *_PORT to a free port below 32768, the
 * secrets written to a temp folder and passed through the *_FILE variables, the local Redis,
 * a cluster name of this test's own. Each service's compose health check must pass; then a
 * telnet user on server1 and one on server2 chat across the cluster, and everything stops (exit 0).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { planDeploy } from '../../framework/cli/generate-deploy.js'
import { loadConfig } from '../../framework/server/config.js'
import { LineClient, root, waitUntil } from '../helpers.js'
import { childEnv } from '../e2e/sd-process.js'
import { runSd } from '../cli/run-sd.js'
import { redisUrl } from '../stores.js'

interface Service { image?: string, command: string[], profiles?: string[], environment: Record<string, string>, healthcheck: { test: string[] } }

/** A port below 32768 that was free a moment ago, never the same twice in this test. */
const taken = new Set<number>()
async function lowPort (): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000)
    if (taken.has(port)) continue
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) { taken.add(port); return port }
  }
}

const local = new URL(redisUrl)

test('the compose services run as plain processes: two dispatch servers, two servers, a chat message crossing from server1 to server2', { timeout: 120_000 }, async (t) => {
  const files = planDeploy(root, await loadConfig({ root, env: {} }))
  const content = (end: string): string => files.find((f) => f.path.endsWith(end))!.content
  const compose = parse(content('deploy/compose.yaml')) as { services: Record<string, Service> }
  const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(content('deploy/Dockerfile'))![1]) as string[]
  assert.equal(entrypoint[0], 'node')
  const names = Object.keys(compose.services)
  const sd = Object.entries(compose.services).filter(([, s]) => s.image === 'sd-chat:latest' && s.profiles === undefined)
  assert.deepEqual(sd.map(([n]) => n), ['dispatch1', 'dispatch2', 'server1', 'server2'])

  const tmp = await mkdtemp(join(tmpdir(), 'sd-deploy-procs-'))
  t.after(() => rm(tmp, { recursive: true, force: true }))
  for (const name of ['cluster_secret', 'admin_token', 'mysql_url']) await writeFile(join(tmp, name), content(`deploy/secrets/${name}`))
  const cluster = `sd-deploy-test-${process.pid}`

  /** The service's environment on this machine; `ports` maps its container ports to the chosen ones. */
  const mapEnv = async (service: string, env: Record<string, string>): Promise<{ env: Record<string, string>, ports: Map<number, number> }> => {
    const out: Record<string, string> = {}
    const ports = new Map<number, number>()
    for (const [key, raw] of Object.entries(env)) {
      let value = String(raw)
      const subst = /^\$\{\w+:-(.*)\}$/.exec(value)
      if (subst) value = subst[1] // compose's default: the variable is unset here
      if (value === '') continue
      if (key.endsWith('_FILE')) value = value.replace(/^\/run\/secrets\//, `${tmp}/`)
      else if (key.endsWith('_PORT')) { const port = await lowPort(); ports.set(Number(value), port); value = String(port) }
      else if (key.endsWith('_HOST') && (value === '0.0.0.0' || names.includes(value))) value = '127.0.0.1'
      else if (key === 'REDIS_URL') value = `redis://${local.host}`
      out[key] = value
    }
    assert.ok(!Object.values(out).some((v) => v.startsWith('redis://redis')), 'no compose host name is left')
    return { env: { ...out, SD_RUN_DIR: join(tmp, `run-${service}`), SD_CLUSTER_NAME: cluster }, ports }
  }

  const procs: Array<{ name: string, child: ChildProcess, out: () => string, env: Record<string, string>, ports: Map<number, number>, health: string[] }> = []
  t.after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
  })
  for (const [name, service] of sd) {
    const { env, ports } = await mapEnv(name, service.environment)
    const child = spawn(process.execPath, [...entrypoint.slice(1), ...service.command], { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout?.setEncoding('utf8').on('data', (c: string) => { text += c })
    child.stderr?.setEncoding('utf8').on('data', (c: string) => { text += c })
    // the compose health check, its container port replaced by the chosen one
    const [, ...command] = service.healthcheck.test
    const health = command.map((arg) => arg.replace(/\b(\d{2,5})\b/g, (m) => String(ports.get(Number(m)) ?? m)))
    procs.push({ name, child, out: () => text, env, ports, health })
  }

  for (const p of procs) {
    await waitUntil(() => {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited: ${p.out()}`)
      return spawnSync(health(p.health)[0], health(p.health).slice(1), { timeout: 5000 }).status === 0
    }, 60_000, `${p.name}'s compose health check`)
  }
  const [d1, d2, s1, s2] = procs
  // both servers linked to both dispatch servers (found through Redis, at their advertised address)
  for (const d of [d1, d2]) {
    let last = ''
    await waitUntil(async () => {
      const run = await runSd(['status', '--dispatch', '--json'], root, d.env)
      last = `${run.stdout}${run.stderr}`
      const linked = run.code === 0 ? (JSON.parse(run.stdout) as { linked: Array<{ name: string }> }).linked.map((l) => l.name).sort() : []
      return linked.join() === 'server1,server2'
    }, 30_000, `${d.name} to link both servers`).catch((err: unknown) => { throw new Error(`${(err as Error).message}: ${last}\n${s1.out().slice(-3000)}`) })
  }

  // each dispatch server's admin listener (compose's SD_ADMIN_PORT) counts both links
  for (const d of [d1, d2]) {
    const adminPort = d.ports.get(Number(compose.services[d.name].environment.SD_ADMIN_PORT))!
    const token = content('deploy/secrets/admin_token').trim()
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 200, `${d.name} serves /metrics`)
    assert.match(await res.text(), /^sd_dispatch_links 2$/m)
  }

  const textPort = (p: typeof s1): number => p.ports.get(Number(compose.services[p.name].environment.SD_TEXT_PORT))!
  const alice = await LineClient.connect(textPort(s1))
  const bob = await LineClient.connect(textPort(s2))
  try {
    alice.send('alice')
    const aliceUid = /your uid is (\d+)/.exec(await alice.next((l) => l.startsWith('welcome'), 10_000))![1]
    bob.send('bob')
    const bobUid = /your uid is (\d+)/.exec(await bob.next((l) => l.startsWith('welcome'), 10_000))![1]
    assert.equal(await alice.next((l) => l.includes('joined'), 10_000), `bob(${bobUid}) joined lobby`, 'the join on server2 reached server1')
    alice.send(`${bobUid}:hello from server1`)
    assert.equal(await bob.next((l) => l.includes('hello from server1'), 10_000), `alice(${aliceUid}) says to you: hello from server1`)
    bob.send('to the room')
    assert.equal(await alice.next((l) => l.includes('to the room'), 10_000), `bob(${bobUid}) says: to the room`)
  } finally {
    alice.close()
    bob.close()
  }

  // stop as compose does (SIGTERM): servers first, then the dispatch servers; each exits 0
  for (const p of [s1, s2, d1, d2]) {
    const exited = once(p.child, 'exit')
    p.child.kill('SIGTERM')
    const [code] = await exited as [number | null]
    assert.equal(code, 0, `${p.name} stops cleanly: ${p.out().slice(-2000)}`)
  }
})

/** The health check's argv: `node` is this node. */
function health (argv: string[]): string[] {
  return argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv
}
