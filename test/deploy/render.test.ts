/** `sd generate deploy`: the files render for the demo app and a fresh `sd new` app, and hold what they promise. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { planDeploy } from '../../framework/cli/generate-deploy.js'
import { loadConfig } from '../../framework/server/config.js'
import type { PlannedFile } from '../../framework/cli/generate.js'
import { root } from '../helpers.js'
import { runSd } from '../cli/run-sd.js'

interface Service { image?: string, command?: string[], profiles?: string[], environment?: Record<string, string>, secrets?: string[], depends_on?: Record<string, { condition: string }>, healthcheck?: { test: string[] }, restart?: string, expose?: string[] }
interface Compose { services: Record<string, Service>, secrets: Record<string, { file: string }> }

const byName = (files: PlannedFile[], end: string): PlannedFile => {
  const f = files.find((x) => x.path.endsWith(end))
  assert.ok(f, `${end} is planned`)
  return f
}

/** `[Section]` → key → values (a key may repeat) of a systemd unit. */
function parseUnit (text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {}
  let section: Record<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const head = /^\[(\w+)\]$/.exec(line)
    if (head) { section = out[head[1]] = {}; continue }
    const kv = /^(\w+)=(.*)$/.exec(line)
    assert.ok(kv && section, `a key=value line in a section: ${line}`)
    ;(section[kv[1]] ??= []).push(kv[2])
  }
  return out
}

/** Checks every rendered file of one app; `secrets` are the values that must appear in no environment. */
function checkFiles (files: PlannedFile[], name: string, sdBin: string): void {
  for (const f of files) assert.doesNotMatch(f.content, /<%|%>|undefined/, f.path)

  const docker = byName(files, 'deploy/Dockerfile').content
  const stages = [...docker.matchAll(/^FROM \$\{NODE_IMAGE\} AS (\w+)$/gm)].map((m) => m[1])
  assert.deepEqual(stages, ['build', 'runtime'], 'two stages on the base image of the build ARG')
  assert.match(docker, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m)
  assert.match(docker, new RegExp(`^RUN node ${sdBin} build && npm prune --omit=dev$`, 'm'))
  const runtime = docker.slice(docker.indexOf('AS runtime'))
  assert.match(runtime, /^USER node$/m, 'the runtime runs as the non-root node user')
  assert.match(runtime, /^ENV NODE_ENV=production$/m)
  assert.doesNotMatch(runtime, /npm (ci|install)/, 'the runtime stage installs nothing: the pruned node_modules comes from the build')
  assert.match(runtime, /^EXPOSE 9093 8480 8081$/m)
  assert.match(runtime, /^HEALTHCHECK /m)
  assert.equal(JSON.stringify(JSON.parse(/^ENTRYPOINT (.*)$/m.exec(runtime)![1])), JSON.stringify(['node', sdBin]))
  assert.match(byName(files, '.dockerignore').content, /^node_modules$[\s\S]*^deploy\/secrets$/m)

  const compose = parse(byName(files, 'deploy/compose.yaml').content) as Compose
  assert.deepEqual(Object.keys(compose.services).sort(), ['dispatch1', 'dispatch2', 'mariadb', 'migrate', 'redis', 'server1', 'server2'])
  assert.deepEqual(Object.keys(compose.secrets).sort(), ['admin_token', 'cluster_secret', 'mysql_password', 'mysql_url'])
  for (const [key, s] of Object.entries(compose.secrets)) assert.equal(s.file, `./secrets/${key}`)
  assert.deepEqual(compose.services.mariadb.profiles, ['mysql'])
  assert.deepEqual(compose.services.migrate.profiles, ['mysql'])
  const secretValues = files.filter((f) => f.path.includes('/deploy/secrets/') && !f.path.endsWith('.gitignore')).map((f) => f.content.trim())
  assert.equal(secretValues.length, 4)
  for (const [svc, s] of Object.entries(compose.services)) {
    const env = s.environment ?? {}
    for (const [k, v] of Object.entries(env)) {
      for (const secret of secretValues) assert.ok(!String(v).includes(secret), `${svc}.${k} holds no secret value`)
      assert.doesNotMatch(k, /^(SD_CLUSTER_SECRET|SD_ADMIN_TOKEN|SD_AUTH_JWT_SECRET|MYSQL_URL|MARIADB_PASSWORD)$/, `${svc} sets no secret variable itself`)
    }
    if (svc === 'migrate') continue // a one-shot job
    assert.ok(s.healthcheck, `${svc} has a health check`)
    assert.equal(s.restart, 'unless-stopped', svc)
  }
  for (const svc of ['dispatch1', 'dispatch2', 'server1', 'server2']) {
    const s = compose.services[svc]
    assert.equal(s.image, `${name}:latest`)
    assert.equal(s.environment?.SD_NODE_NAME, svc, `${svc} has its node name`)
    assert.equal(s.environment?.SD_CLUSTER_SECRET_FILE, '/run/secrets/cluster_secret')
    assert.ok(s.secrets?.includes('cluster_secret'))
    assert.equal(s.environment?.REDIS_URL, 'redis://redis:6379')
    assert.equal(s.depends_on?.redis.condition, 'service_healthy')
    // every sd process has an admin listener (a dispatch server's: its metrics, docs/metrics.md)
    assert.equal(s.environment?.SD_ADMIN_PORT, '9990')
    assert.equal(s.environment?.SD_ADMIN_HOST, '0.0.0.0')
    assert.equal(s.environment?.SD_ADMIN_TOKEN_FILE, '/run/secrets/admin_token')
    assert.ok(s.secrets?.includes('admin_token'))
    assert.deepEqual(s.expose, ['9990'])
  }
  for (const svc of ['dispatch1', 'dispatch2']) {
    assert.deepEqual(compose.services[svc].command, ['start', '--dispatch'])
    assert.equal(compose.services[svc].environment?.SD_ADVERTISE_HOST, svc, 'servers reach it by its service name')
  }
  for (const svc of ['server1', 'server2']) {
    const s = compose.services[svc]
    assert.deepEqual(s.command, ['start', '--cluster'])
    assert.equal(s.environment?.MYSQL_URL_FILE, '${MYSQL_URL_FILE:-}', 'MariaDB only when asked for')
    assert.equal(s.depends_on?.dispatch1.condition, 'service_healthy')
    assert.equal(s.depends_on?.migrate.condition, 'service_completed_successfully')
  }
  assert.equal(compose.services.mariadb.environment?.MARIADB_PASSWORD_FILE, '/run/secrets/mysql_password')
  assert.match(byName(files, 'deploy/secrets/mysql_url').content, /^mysql:\/\/sd:[0-9a-f]{36}@mariadb:3306\/sd\n$/)
  assert.ok(byName(files, 'deploy/secrets/mysql_url').content.includes(byName(files, 'deploy/secrets/mysql_password').content.trim()))

  for (const [unit, start] of [[`${name}@.service`, 'start --cluster'], [`${name}-dispatch@.service`, 'start --dispatch']] as const) {
    const u = parseUnit(byName(files, `deploy/systemd/${unit}`).content)
    const s = u.Service
    assert.ok(u.Unit && u.Install, unit)
    assert.deepEqual(s.ExecStart, [`/usr/bin/node ${sdBin} ${start}`])
    assert.deepEqual(s.User, [name])
    assert.deepEqual(s.WorkingDirectory, [`/srv/${name}`])
    assert.deepEqual(s.EnvironmentFile, [`/etc/${name}/%i.env`])
    assert.deepEqual(s.Restart, ['on-failure'])
    assert.deepEqual(s.TimeoutStopSec, ['20'], 'shutdownTimeoutMs 10 s + the primary\'s 5 s + a margin')
    assert.deepEqual(s.ProtectSystem, ['strict'])
    assert.deepEqual(s.NoNewPrivileges, ['yes'])
    assert.deepEqual(s.RuntimeDirectory, [`${name}/%i`])
    assert.ok(s.Environment.some((e) => e.includes(`SD_RUN_DIR=/run/${name}/%i`) && e.includes('SD_NODE_NAME=%i')))
    assert.ok(s.LoadCredential.includes(`cluster_secret:/etc/${name}/secrets/cluster_secret`))
    assert.ok(s.Environment.some((e) => e.includes('SD_CLUSTER_SECRET_FILE=%d/cluster_secret')), 'the secret is read from $CREDENTIALS_DIRECTORY')
    if (start === 'start --cluster') {
      assert.deepEqual(s.ExecReload, [`/usr/bin/node ${sdBin} reload`])
      assert.deepEqual(s.KillMode, ['mixed'], 'SIGTERM goes to the primary, which stops its workers')
    }
  }
}

test('the demo app: every deployment file renders with its ports, its name and its own bin', async () => {
  const files = planDeploy(root, await loadConfig({ root, env: {} }))
  assert.deepEqual(files.map((f) => f.path.slice(root.length)).sort(), [
    '.dockerignore', 'deploy/Dockerfile', 'deploy/compose.yaml', 'deploy/env.example',
    'deploy/secrets/.gitignore', 'deploy/secrets/admin_token', 'deploy/secrets/cluster_secret', 'deploy/secrets/mysql_password', 'deploy/secrets/mysql_url',
    'deploy/systemd/sd-chat-dispatch@.service', 'deploy/systemd/sd-chat.env', 'deploy/systemd/sd-chat@.service',
  ])
  checkFiles(files, 'sd-chat', 'bin/sd.js')
  assert.match(byName(files, 'deploy/Dockerfile').content, /^COPY --from=build \/app\/framework \.\/framework$/m, 'the demo runs the framework from its own sources')
})

test('a fresh sd new app: sd generate deploy writes the files, refuses to overwrite them, and --force does', { timeout: 60_000 }, async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'sd-deploy-new-'))
  t.after(() => rm(parent, { recursive: true, force: true }))
  assert.equal((await runSd(['new', 'shop', '--skip-install'], parent)).code, 0)
  const app = join(parent, 'shop')
  // the framework as installed (npm install links a file: dependency the same way)
  await mkdir(join(app, 'node_modules'))
  await symlink(root, join(app, 'node_modules/sd-framework'))

  const first = await runSd(['generate', 'deploy', '--root', app], app, {}, 60_000)
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /created deploy\/compose\.yaml/)
  assert.match(first.stdout, /file: path, which the image build cannot reach/, 'sd new\'s file: dependency is pointed out')
  assert.equal((await stat(join(app, 'deploy/secrets'))).mode & 0o777, 0o700)
  const files: PlannedFile[] = []
  for (const rel of ['deploy/Dockerfile', '.dockerignore', 'deploy/compose.yaml', 'deploy/secrets/cluster_secret', 'deploy/secrets/admin_token', 'deploy/secrets/mysql_password', 'deploy/secrets/mysql_url', 'deploy/systemd/shop@.service', 'deploy/systemd/shop-dispatch@.service']) {
    files.push({ path: join(app, rel), content: await readFile(join(app, rel), 'utf8') })
  }
  checkFiles(files, 'shop', 'node_modules/sd-framework/bin/sd.js')

  const again = await runSd(['generate', 'deploy', '--root', app], app)
  assert.equal(again.code, 1)
  assert.match(again.stderr, /not overwriting deploy\/Dockerfile, .*\(use --force\)/)
  const secret = await readFile(join(app, 'deploy/secrets/cluster_secret'), 'utf8')
  assert.equal((await runSd(['generate', 'deploy', '--force', '--root', app], app)).code, 0)
  assert.notEqual(await readFile(join(app, 'deploy/secrets/cluster_secret'), 'utf8'), secret, 'forced: fresh secrets')
  assert.equal((await runSd(['generate', 'deploy', 'x', '--root', app], app)).code, 2, 'deploy takes no name')
  assert.equal((await runSd(['generate', 'controller', '--root', app], app)).code, 2, 'the other kinds still need one')
})

const analyze = spawnSync('systemd-analyze', ['--version']).status === 0

test('systemd-analyze verify accepts both units', { skip: analyze ? false : 'systemd-analyze not installed', timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sd-deploy-units-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const files = planDeploy(root, await loadConfig({ root, env: {} }))
  const { writeFile } = await import('node:fs/promises')
  const units: string[] = []
  for (const f of files.filter((x) => x.path.endsWith('.service'))) {
    // an instance of the template unit is what systemd loads
    const file = join(dir, f.path.slice(f.path.lastIndexOf('/') + 1).replace('@.service', '@node1.service'))
    await writeFile(file, f.content)
    units.push(file)
  }
  const run = spawnSync('systemd-analyze', ['verify', '--man=no', ...units], { encoding: 'utf8' })
  // the app folder, user and node binary of the target machine need not exist here: only
  // complaints about the units' own syntax and options fail the test
  const problems = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.trim() !== '' && !/does not exist|not found|No such file|Failed to resolve user|Command \/usr\/bin\/node is not executable|unit_file_build_name_map|Failed to create|Failed to setup|Failed to initialize|Failed to prepare/.test(l))
  assert.deepEqual(problems, [], `systemd-analyze verify:\n${run.stdout}${run.stderr}`)
})
