/**
 * `sd start --split | --gateway | --worker` refuse, with exit 2 and one line saying what to
 * set, what cannot work: combined with each other or with --dispatch, a worker that cannot
 * find its gateways, a gateway or worker without the link secret they share. Nothing is
 * forked in these cases (the run folder stays empty).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root } from '../helpers.js'
import { runSd } from './run-sd.js'

let runDir: string
const secret = 'a-test-secret-of-32-bytes-000000'
/** No Redis, no secret, no gateway list: each test adds what it means to. */
const bare = { REDIS_URL: undefined, MYSQL_URL: undefined, SD_CLUSTER_SECRET: undefined, SD_GATEWAY_SECRET: undefined, SD_GATEWAYS: undefined, SD_CLUSTER: undefined }

before(async () => { runDir = await mkdtemp(join(tmpdir(), 'sd-start-split-')) })
after(async () => { await rm(runDir, { recursive: true, force: true }) })

async function start (args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number, text: string }> {
  const run = await runSd(['start', ...args], root, { ...bare, SD_RUN_DIR: runDir, ...env })
  return { code: run.code, text: (run.stdout + run.stderr).replace(/\s*›\s*/g, ' ') }
}

test('mode flags are mutually exclusive, --dispatch included', async () => {
  for (const args of [['--split', '--dispatch'], ['--gateway', '--worker'], ['--split', '--worker']]) {
    const r = await start(args, { SD_GATEWAY_SECRET: secret, SD_GATEWAYS: '127.0.0.1:9992' })
    assert.equal(r.code, 2, r.text)
    assert.match(r.text, /cannot be combined: --split, --gateway, --worker and --dispatch each start a different kind of process/, r.text)
  }
  assert.deepEqual(await readdir(runDir), [])
})

test('--worker without SD_GATEWAYS, gateway.addresses or Redis: exit 2 naming them', async () => {
  const r = await start(['--worker'], { SD_GATEWAY_SECRET: secret })
  assert.equal(r.code, 2, r.text)
  assert.match(r.text, /--worker needs to know its gateways: set SD_GATEWAYS \(host:port,…\) or gateway\.addresses/, r.text)
})

test('--worker without a link secret: exit 2 naming SD_GATEWAY_SECRET', async () => {
  for (const env of [{ SD_GATEWAYS: '127.0.0.1:9992' }, { REDIS_URL: 'redis://127.0.0.1:6379' }, { SD_GATEWAYS: '127.0.0.1:9992', SD_GATEWAY_SECRET: 'short' }]) {
    const r = await start(['--worker', '--workers', '2'], env)
    assert.equal(r.code, 2, r.text)
    assert.match(r.text, /--worker needs the link secret it shares with the gateways it links to: set SD_GATEWAY_SECRET \(or SD_CLUSTER_SECRET\), at least 16 bytes/, r.text)
  }
})

test('--gateway without a link secret: exit 2 (its workers run elsewhere and must share it)', async () => {
  const r = await start(['--gateway'])
  assert.equal(r.code, 2, r.text)
  assert.match(r.text, /--gateway needs the link secret it shares with its workers, started by another sd start --worker: set SD_GATEWAY_SECRET/, r.text)
  assert.deepEqual(await readdir(runDir), [])
})

test('sd start --help lists the new flags', async () => {
  const help = await runSd(['start', '--help'], root)
  for (const flag of ['--split', '--gateway', '--worker']) assert.match(help.stdout, new RegExp(`\\s${flag}\\s`), help.stdout)
})
