/**
 * The declared Node version and the locked dependencies agree: every package in
 * package-lock.json runs on the oldest Node that package.json's `engines` accepts (otherwise
 * `npm ci` warns EBADENGINE and users of that Node get code that may not run).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { root } from './helpers.js'

const semver = createRequire(import.meta.url)('semver') as {
  minVersion: (range: string) => { version: string } | null
  satisfies: (version: string, range: string) => boolean
}

test('every locked package accepts the oldest Node that engines.node declares', async () => {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }
  const oldest = semver.minVersion(pkg.engines.node)?.version
  assert.ok(oldest, `engines.node ${pkg.engines.node} names a version`)
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string, engines?: { node?: string } | string[] }>
  }
  const refused: string[] = []
  for (const [path, entry] of Object.entries(lock.packages)) {
    const wanted = Array.isArray(entry.engines) ? undefined : entry.engines?.node
    if (path === '' || wanted === undefined) continue
    if (!semver.satisfies(oldest, wanted)) refused.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${wanted}`)
  }
  assert.deepEqual(refused, [], `Node ${oldest} (engines.node ${pkg.engines.node}) is refused by`)
})
