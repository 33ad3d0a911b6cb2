/**
 * Child processes of the benchmarks: every server and every load generator runs in its own
 * node process, optionally pinned to one CPU with `taskset` so the server and the load
 * generator each get a core of their own. Messages come back over IPC.
 *
 * Children run the repository compiled by tsc (as a production deployment runs SD), with
 * plain `node`: under tsx's loader the same code serves HTTP about 20% slower, which is a cost
 * of running TypeScript through a loader, not of SD. `BENCH_RUNTIME=tsx` measures that way.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const repoDir = fileURLToPath(new URL('../..', import.meta.url))
/** `tsx`: run the TypeScript sources through tsx; otherwise the tsc build (default). */
const runtime = process.env.BENCH_RUNTIME === 'tsx' ? 'tsx' : 'compiled'
// one build per checkout: worktrees share node_modules (a symlink), and so would share the build
const buildDir = `${repoDir}node_modules/.cache/sd-bench-${createHash('sha1').update(repoDir).digest('hex').slice(0, 8)}/`

/** Compiles the repository once (tsc, about 4 s) into `buildDir`; returns the bench folder to run. */
function prepare (): string {
  if (runtime === 'tsx') return fileURLToPath(new URL('..', import.meta.url))
  const tsc = spawnSync(process.execPath, [`${repoDir}node_modules/typescript/bin/tsc`, '-p', `${repoDir}tsconfig.json`, '--noEmit', 'false', '--outDir', buildDir, '--sourceMap', 'false'], { stdio: 'inherit' })
  if (tsc.status !== 0) throw new Error('tsc failed: the benchmarks run the compiled repository')
  mkdirSync(buildDir, { recursive: true })
  writeFileSync(`${buildDir}package.json`, '{ "type": "module" }\n')
  // tsc emits only JavaScript: the app's templates and static files are copied beside it
  for (const assets of ['app/views', 'app/public']) {
    if (existsSync(`${repoDir}${assets}`)) cpSync(`${repoDir}${assets}`, `${buildDir}${assets}`, { recursive: true })
  }
  return `${buildDir}bench/`
}

/** Directory of the benchmark scripts the children run (`bench/`, compiled or not). */
export const benchDir = prepare()

/** How the children run: `compiled` (plain node on the tsc build) or `tsx`. */
export const benchRuntime = runtime

/** Pinning is on unless `BENCH_PIN=0` or `taskset` is missing. */
export const pinning: boolean = process.env.BENCH_PIN !== '0' && spawnSync('taskset', ['--version']).status === 0

/** Options of `startChild`. */
export interface ChildOptions {
  /** CPU to pin the child to (ignored without pinning). */
  cpu?: number
  /** Extra node flags, e.g. `--expose-gc`. */
  nodeFlags?: string[]
  /** Arguments after the script. */
  args?: string[]
  /** Descriptor limit (soft and hard) to run the child with, set through `prlimit`. */
  nofile?: number
}

/** A running child with IPC. */
export class Child {
  readonly proc: ChildProcess
  readonly name: string
  readonly #exited: Promise<unknown>

  constructor (proc: ChildProcess, name: string) {
    this.proc = proc
    this.name = name
    this.#exited = once(proc, 'exit')
  }

  get pid (): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} has no pid`)
    return this.proc.pid
  }

  /** Resolves with the first IPC message for which `pick` returns a value; rejects on exit or timeout. */
  message<T> (pick: (msg: unknown) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.proc.off('message', onMessage)
        this.proc.off('exit', onExit)
      }
      const onMessage = (msg: unknown): void => {
        const value = pick(msg)
        if (value === undefined) return
        done()
        resolve(value)
      }
      const onExit = (code: number | null): void => {
        done()
        reject(new Error(`${this.name} exited (code ${code}) before answering`))
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${this.name} did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.proc.on('message', onMessage)
      this.proc.once('exit', onExit)
    })
  }

  /** Sends an IPC message. */
  send (msg: unknown): void {
    this.proc.send(msg as Parameters<NonNullable<ChildProcess['send']>>[0])
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop (graceMs = 5000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs)
    await this.#exited
    clearTimeout(timer)
  }

  /** Resolves when the child exits on its own. */
  exited (): Promise<unknown> {
    return this.#exited
  }
}

/** Starts `bench/<script>` in a new node process with an IPC channel; stderr is passed through. */
export function startChild (script: string, options: ChildOptions = {}): Child {
  const file = runtime === 'tsx' ? `${benchDir}${script}` : `${benchDir}${script.replace(/\.ts$/, '.js')}`
  // BENCH_SERVER_FLAGS: extra node flags for server children (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`)
  const extra = script.includes('servers/') && process.env.BENCH_SERVER_FLAGS ? process.env.BENCH_SERVER_FLAGS.split(' ') : []
  const node = [...(options.nodeFlags ?? []), ...extra, ...(runtime === 'tsx' ? ['--import', 'tsx'] : []), file, ...(options.args ?? [])]
  const pinned = pinning && options.cpu !== undefined
    ? ['taskset', '-c', String(options.cpu), process.execPath, ...node]
    : [process.execPath, ...node]
  const cmd = options.nofile === undefined ? pinned : ['prlimit', `--nofile=${options.nofile}:${options.nofile}`, ...pinned]
  // SD_BENCH=1: the demo's /bench/* routes that act on other users exist only then
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], cwd: repoDir, env: { ...process.env, SD_BENCH: '1' } })
  return new Child(proc, script)
}
