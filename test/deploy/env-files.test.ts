/** The `X_FILE` variants of the secret variables (framework/server/env-files.ts) through `loadConfig`. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../framework/server/config.js'
import { SdError } from '../../framework/core/errors.js'
import { MAX_ENV_FILE_BYTES } from '../../framework/server/env-files.js'

async function secretsDir (t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-env-files-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const load = (env: NodeJS.ProcessEnv): ReturnType<typeof loadConfig> => loadConfig({ configDir: false, env })

test('SD_CLUSTER_SECRET_FILE, SD_ADMIN_TOKEN_FILE, SD_AUTH_JWT_SECRET_FILE, MYSQL_URL_FILE and REDIS_URL_FILE read their files, one trailing newline trimmed', async (t) => {
  const dir = await secretsDir(t)
  const files = {
    SD_CLUSTER_SECRET_FILE: ['cluster', 'cluster-secret-0123456789\n'],
    SD_ADMIN_TOKEN_FILE: ['admin', 'admin-token-0123456789\r\n'],
    SD_AUTH_JWT_SECRET_FILE: ['jwt', 'jwt secret with a space \n\n'],
    MYSQL_URL_FILE: ['mysql', 'mysql://sd:pw@127.0.0.1:3306/sd'],
    REDIS_URL_FILE: ['redis', 'redis://:pw@127.0.0.1:6379\n'],
  }
  const env: NodeJS.ProcessEnv = {}
  for (const [name, [file, text]] of Object.entries(files)) {
    await writeFile(join(dir, file), text)
    env[name] = join(dir, file)
  }
  const config = await load(env)
  assert.equal(config.cluster.secret, 'cluster-secret-0123456789')
  assert.equal(config.admin.token, 'admin-token-0123456789', 'a CRLF ending is one newline')
  assert.equal(config.auth.jwt.secret, 'jwt secret with a space \n', 'only one newline is trimmed, spaces are kept')
  assert.equal(config.mysql.url, 'mysql://sd:pw@127.0.0.1:3306/sd')
  assert.equal(config.redis.url, 'redis://:pw@127.0.0.1:6379')
})

test('X and X_FILE both set, an unreadable file and an empty file fail with SD_ERR_CONFIG_INVALID naming the variable, never the value', async (t) => {
  const dir = await secretsDir(t)
  await writeFile(join(dir, 'secret'), 'from-the-file-0123456789\n')
  await writeFile(join(dir, 'empty'), '\n')
  const fails = async (env: NodeJS.ProcessEnv, message: RegExp): Promise<void> => {
    await assert.rejects(load(env), (err: unknown) => {
      assert.ok(err instanceof SdError)
      assert.equal(err.code, 'SD_ERR_CONFIG_INVALID')
      assert.match(err.message, message)
      assert.doesNotMatch(err.message, /from-the-file|from-the-env/)
      return true
    })
  }
  await fails({ SD_CLUSTER_SECRET: 'from-the-env-0123456789', SD_CLUSTER_SECRET_FILE: join(dir, 'secret') }, /SD_CLUSTER_SECRET and SD_CLUSTER_SECRET_FILE are both set/)
  await fails({ SD_ADMIN_TOKEN_FILE: join(dir, 'missing') }, new RegExp(`SD_ADMIN_TOKEN_FILE: cannot read ${join(dir, 'missing')} \\(ENOENT\\)`))
  await fails({ SD_AUTH_JWT_SECRET_FILE: dir }, /SD_AUTH_JWT_SECRET_FILE: .* is not a regular file/)
  await fails({ SD_CLUSTER_SECRET_FILE: join(dir, 'empty') }, /SD_CLUSTER_SECRET_FILE: .* is empty/)
  // an empty X_FILE is unset; the plain variable still works
  assert.equal((await load({ SD_CLUSTER_SECRET_FILE: '', SD_CLUSTER_SECRET: 'plain-0123456789' })).cluster.secret, 'plain-0123456789')
})

test('SD_ADVERTISE_HOST and SD_CLUSTER_NAME set the dispatch server\'s advertised host and the cluster name', async () => {
  const config = await load({ SD_ADVERTISE_HOST: 'dispatch1', SD_CLUSTER_NAME: 'stack-a' })
  assert.equal(config.cluster.advertiseHost, 'dispatch1')
  assert.equal(config.cluster.name, 'stack-a')
})

test('X_FILE naming a FIFO, a device or a file over 64 KiB fails at once with SD_ERR_CONFIG_INVALID (no hang, nothing read into memory)', async (t) => {
  const dir = await secretsDir(t)
  const big = join(dir, 'big')
  await writeFile(big, '')
  await truncate(big, MAX_ENV_FILE_BYTES + 1)
  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  const fails = async (env: NodeJS.ProcessEnv, message: RegExp): Promise<void> => {
    await assert.rejects(load(env), (err: unknown) => {
      assert.ok(err instanceof SdError)
      assert.equal(err.code, 'SD_ERR_CONFIG_INVALID')
      assert.match(err.message, message)
      return true
    })
  }
  await fails({ SD_CLUSTER_SECRET_FILE: big }, new RegExp(`SD_CLUSTER_SECRET_FILE: ${big} is larger than ${MAX_ENV_FILE_BYTES} bytes`))
  // a FIFO with no writer (or /dev/zero) read in-process would block this test (or fill memory)
  // forever: a child process under a kill timer does it, and reports what it got
  const script = `import { readEnvFiles } from ${JSON.stringify(new URL('../../framework/server/env-files.ts', import.meta.url).href)}
for (const p of process.argv.slice(1)) { try { readEnvFiles({ SD_ADMIN_TOKEN_FILE: p }); console.log('read') } catch (e) { console.log(e.message) } }`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, fifo, '/dev/zero'], { encoding: 'utf8', timeout: 20_000 })
  assert.equal(child.signal, null, `the reads returned (stdout: ${child.stdout}, stderr: ${child.stderr.slice(0, 500)})`)
  assert.deepEqual(child.stdout.trim().split('\n'), [
    `invalid configuration: SD_ADMIN_TOKEN_FILE: ${fifo} is not a regular file`,
    'invalid configuration: SD_ADMIN_TOKEN_FILE: /dev/zero is not a regular file',
  ])
})
