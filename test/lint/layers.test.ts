/**
 * The two lint rules that guard the layer plan (eslint-rules/layers.js): `layers/layer-order`
 * refuses imports that point to a later layer, `layers/no-cycle` refuses imports that close a
 * cycle. Each case lints a small tree of files written to a temp folder. Last, the layer list
 * quoted in docs/architecture.md is the one eslint.layers.js holds.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ESLint } from 'eslint'
import tseslint from 'typescript-eslint'
import { root } from '../helpers.js'

const plugin = (await import(pathToFileURL(join(root, 'eslint-rules/layers.js')).href) as { default: ESLint.Plugin }).default
const layers = ['core', 'connection', 'transport']

/** Writes `files` under a temp folder, lints all of them, returns `file: line rule message` rows. */
async function lint (files: Record<string, string>, ruleOptions: Record<string, unknown> = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-lint-'))
  try {
    for (const [name, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true })
      await writeFile(join(dir, name), text)
    }
    const eslint = new ESLint({
      cwd: dir,
      overrideConfigFile: true,
      overrideConfig: [{
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser as never },
        plugins: { layers: plugin },
        rules: {
          'layers/layer-order': ['error', { root: 'framework', layers }],
          'layers/no-cycle': ['error', { root: 'framework', ...ruleOptions }],
        },
      }],
    })
    const results = await eslint.lintFiles(Object.keys(files))
    return results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(dir.length + 1)}:${m.line} ${m.ruleId} ${m.message}`)).sort()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('an import from a later layer is refused, type-only imports included; same folder and earlier layers pass', async () => {
  const found = await lint({
    'framework/core/router.ts': "import type { Pack } from '../transport/packs.js'\nimport { clock } from './clock.js'\nexport const r = (p: Pack) => [p, clock]\n",
    'framework/core/clock.ts': 'export const clock = 1\n',
    'framework/connection/table.ts': "import { clock } from '../core/clock.js'\nexport const t = clock\n",
    'framework/transport/packs.ts': "import { t } from '../connection/table.js'\nexport type Pack = typeof t\nexport const load = () => import('../connection/table.js')\n",
  })
  assert.equal(found.length, 1, found.join('\n'))
  assert.match(found[0], /^framework\/core\/router\.ts:1 layers\/layer-order core\/router\.ts \(layer 1, 'core'\) may not import transport\/packs\.ts \(layer 3, 'transport'\) \(type-only import\)/)
})

test('a dynamic import, a re-export and an import type from a later layer are refused', async () => {
  const found = await lint({
    'framework/connection/bus.ts': "export * from '../transport/ws.js'\nexport const load = () => import('../transport/ws.js')\nexport type W = import('../transport/ws.js').W\n",
    'framework/transport/ws.ts': 'export const ws = 1\nexport type W = number\n',
  })
  assert.deepEqual(found.map((f) => f.split(' ').slice(0, 2).join(' ')), [
    'framework/connection/bus.ts:1 layers/layer-order',
    'framework/connection/bus.ts:2 layers/layer-order',
    'framework/connection/bus.ts:3 layers/layer-order',
  ])
})

test('a dynamic import of a template literal without expressions is checked like a string', async () => {
  const found = await lint({
    'framework/core/boot.ts': "export const load = () => import(`../transport/registry.js`)\nexport const own = () => import(`./clock.js`)\n",
    'framework/core/clock.ts': 'export const clock = 1\n',
    'framework/transport/registry.ts': 'export const registry = 1\n',
  })
  assert.equal(found.length, 1, found.join('\n'))
  assert.match(found[0], /^framework\/core\/boot\.ts:1 layers\/layer-order core\/boot\.ts \(layer 1, 'core'\) may not import transport\/registry\.ts \(layer 3, 'transport'\):/)
})

test('a dynamic import of a computed specifier is reported as uncheckable, unless disabled on its line', async () => {
  const found = await lint({
    'framework/core/boot.ts': [
      "export const byName = (p: string) => import('../transport/' + p)",
      'export const byUrl = (url: string) => import(url)',
      'export const byTemplate = (p: string) => import(`../transport/${p}.js`)',
      '// eslint-disable-next-line layers/layer-order -- loads application code by URL',
      'export const app = (url: string) => import(url)',
      '',
    ].join('\n'),
  })
  assert.deepEqual(found.map((f) => f.split(' ').slice(0, 2).join(' ')), [
    'framework/core/boot.ts:1 layers/layer-order',
    'framework/core/boot.ts:2 layers/layer-order',
    'framework/core/boot.ts:3 layers/layer-order',
  ])
  for (const f of found) assert.match(f, /core\/boot\.ts: a dynamic import of a computed specifier cannot be checked against the layer order/)
})

test('import x = require() is checked by the layer order and the cycle rule', async () => {
  const found = await lint({
    'framework/core/a.ts': "import t = require('../transport/ws.js')\nimport b = require('./b.js')\nexport const a = [t, b]\n",
    'framework/core/b.ts': "import type a = require('./a.js')\nexport const b: typeof a | null = null\n",
    'framework/transport/ws.ts': 'export const ws = 1\n',
  })
  assert.deepEqual(found, [
    'framework/core/a.ts:1 layers/layer-order core/a.ts (layer 1, \'core\') may not import transport/ws.ts (layer 3, \'transport\'): layers may import only their own folder or earlier ones (eslint.layers.js)',
    'framework/core/a.ts:2 layers/no-cycle import cycle: core/a.ts → core/b.ts → core/a.ts',
    'framework/core/b.ts:1 layers/no-cycle import cycle: core/b.ts → core/a.ts → core/b.ts',
  ])
  const typesIgnored = await lint({
    'framework/core/a.ts': "import b = require('./b.js')\nexport const a = b\n",
    'framework/core/b.ts': "import type a = require('./a.js')\nexport const b: typeof a | null = null\n",
  }, { ignoreTypeImports: true })
  assert.deepEqual(typesIgnored, [], '`import type x = require()` is a type-only edge')
})

test('a folder missing from the layer list is reported', async () => {
  const found = await lint({ 'framework/scratch/gateway.ts': "import { clock } from '../core/clock.js'\nexport const g = clock\n", 'framework/core/clock.ts': 'export const clock = 1\n' })
  assert.deepEqual(found, ["framework/scratch/gateway.ts:1 layers/layer-order folder 'scratch' is not in the layer list (eslint.layers.js)"])
})

test('an import from outside framework/ is refused', async () => {
  const found = await lint({ 'framework/core/boot.ts': "import { app } from '../../app/boot.js'\nexport const b = app\n", 'app/boot.ts': 'export const app = 1\n' })
  assert.deepEqual(found, ['framework/core/boot.ts:1 layers/layer-order core/boot.ts may not import app/boot.ts: it is outside framework/'])
})

test('an import that closes a cycle is refused in every file of the cycle, with the whole path named', async () => {
  const files = {
    'framework/core/a.ts': "import { b } from './b.js'\nexport const a = () => b\n",
    'framework/core/b.ts': "import type { C } from './c.js'\nexport const b: C = 1\n",
    'framework/core/c.ts': "import { a } from './a.js'\nexport type C = number\nexport const c = a\n",
    'framework/core/d.ts': "import { a } from './a.js'\nexport const d = a\n",
  }
  assert.deepEqual(await lint(files), [
    'framework/core/a.ts:1 layers/no-cycle import cycle: core/a.ts → core/b.ts → core/c.ts → core/a.ts',
    'framework/core/b.ts:1 layers/no-cycle import cycle: core/b.ts → core/c.ts → core/a.ts → core/b.ts',
    'framework/core/c.ts:1 layers/no-cycle import cycle: core/c.ts → core/a.ts → core/b.ts → core/c.ts',
  ])
  assert.deepEqual(await lint(files, { ignoreTypeImports: true }), [], 'the cycle runs through a type-only import')
})

test('docs/architecture.md quotes the layer list of eslint.layers.js, in order', async () => {
  const { layers: written } = await import(pathToFileURL(join(root, 'eslint.layers.js')).href) as { layers: Array<{ folder: string, what: string }> }
  const doc = await readFile(join(root, 'docs/architecture.md'), 'utf8')
  const quoted = [...doc.matchAll(/^(\d+)\. `([a-z-]+)\/` (.+)$/gm)].map(([, n, folder, what]) => ({ n: Number(n), folder, what }))
  assert.deepEqual(quoted.map((q) => q.n), written.map((_, i) => i + 1))
  assert.deepEqual(quoted.map(({ folder, what }) => ({ folder, what })), written)
})
