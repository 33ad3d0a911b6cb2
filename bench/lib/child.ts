/**
 * Child processes of the benchmarks: every server and every load generator runs in its own
 * `node --import tsx` process, optionally pinned to one CPU with `taskset` so the server and
 * the load generator each get a core of their own. Messages come back over IPC.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** Directory of the benchmark sources (`bench/`). */
export const benchDir = fileURLToPath(new URL('..', import.meta.url))

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
  const node = [...(options.nodeFlags ?? []), '--import', 'tsx', `${benchDir}${script}`, ...(options.args ?? [])]
  const cmd = pinning && options.cpu !== undefined
    ? ['taskset', '-c', String(options.cpu), process.execPath, ...node]
    : [process.execPath, ...node]
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], cwd: `${benchDir}..` })
  return new Child(proc, script)
}
