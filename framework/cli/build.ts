/**
 * `sd build`: a production build in `dist/`. tsc compiles what the app's tsconfig includes
 * (app, config, and in this repository the framework too); templates and static files are
 * copied beside the JavaScript; a marker file tells `sd start` to run the build.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Name of the marker file in `dist/`. */
export const buildMarker = '.sd-build'

/** Folders copied as they are. */
const assetDirs = ['app/views', 'app/public']

/** Where the build goes. */
export function buildDir (root: string): string {
  return join(root, 'dist')
}

/** True when `root` has a finished build. */
export function hasBuild (root: string): boolean {
  return existsSync(join(buildDir(root), buildMarker))
}

/** The tsc of the app (its devDependency), or the framework's. */
function tscPath (root: string): string {
  for (const from of [join(root, 'package.json'), fileURLToPath(new URL('../../package.json', import.meta.url))]) {
    try { return createRequire(from).resolve('typescript/bin/tsc') } catch {}
  }
  throw new Error('typescript is not installed (npm install -D typescript)')
}

/** Builds; returns tsc's output when it fails. */
export function buildApp (root: string): { ok: true, dir: string } | { ok: false, output: string } {
  const dir = buildDir(root)
  rmSync(dir, { recursive: true, force: true })
  const tsc = spawnSync(process.execPath, [tscPath(root), '-p', join(root, 'tsconfig.json'), '--noEmit', 'false', '--outDir', dir, '--sourceMap', 'true'], { cwd: root, encoding: 'utf8' })
  if (tsc.status !== 0) return { ok: false, output: `${tsc.stdout}${tsc.stderr}` }
  for (const assets of assetDirs) {
    if (existsSync(join(root, assets))) cpSync(join(root, assets), join(dir, assets), { recursive: true })
  }
  // the framework compiled into the build (this repository's demo) needs its worker entry too
  if (existsSync(join(dir, 'framework/multicore/worker-process.js'))) {
    copyFileSync(fileURLToPath(new URL('../multicore/worker-process-main.mjs', import.meta.url)), join(dir, 'framework/multicore/worker-process-main.mjs'))
  }
  // and the task pool's thread entry (plain JavaScript, which tsc does not copy)
  if (existsSync(join(dir, 'framework/task/pool.js'))) {
    copyFileSync(fileURLToPath(new URL('../task/thread-main.mjs', import.meta.url)), join(dir, 'framework/task/thread-main.mjs'))
  }
  writeFileSync(join(dir, buildMarker), JSON.stringify({ builtAt: new Date().toISOString() }) + '\n')
  return { ok: true, dir }
}
