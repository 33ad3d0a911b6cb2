/**
 * A real `sd start …` of the demo app for the process benchmarks (bench/gateway.ts): its own
 * run folder (`SD_RUN_DIR`), client ports 0 (read back from `state.json`), `SD_BENCH=1`.
 * `reload()` runs `sd reload` against the same run folder and resolves when it has finished.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))
/** Lines of output kept for an error message. */
const TAIL_CHARS = 4000

/** A running `sd start`. */
export interface SdRun {
  readonly args: string[]
  readonly child: ChildProcess
  readonly runDir: string
  /** Client ports from `state.json` (`gateway` too in split mode). */
  readonly ports: { tcp: number, text: number, http: number, gateway?: number }
  /** The end of the server's output (stdout and stderr). */
  tail: () => string
  /** `sd reload`; resolves with its output once every worker is replaced. */
  reload: () => Promise<string>
  /** SIGTERM, wait for the exit, remove the run folder. */
  stop: () => Promise<void>
}

/** Runs `node bin/sd.js <args>` with `SD_RUN_DIR=runDir`; resolves with its exit code and output. */
function sdCommand (args: string[], runDir: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, ['bin/sd.js', ...args], { cwd: repo, env: { ...env, SD_RUN_DIR: runDir }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c })
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, out }))
}

/** Starts `sd start ...args` of the demo app; resolves once `state.json` names its ports. */
export async function startSdRun (args: string[], extraEnv: Record<string, string> = {}): Promise<SdRun> {
  const runDir = await mkdtemp(join(tmpdir(), 'sd-bench-run-'))
  const env: NodeJS.ProcessEnv = {
    ...process.env, SD_BENCH: '1', SD_TCP_PORT: '0', SD_TEXT_PORT: '0', SD_HTTP_PORT: '0', NODE_ENV: 'production', ...extraEnv,
  }
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, ['bin/sd.js', 'start', ...args], { cwd: repo, env: { ...env, SD_RUN_DIR: runDir }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (c: string): void => { out = (out + c).slice(-TAIL_CHARS) }
  child.stdout?.setEncoding('utf8').on('data', keep)
  child.stderr?.setEncoding('utf8').on('data', keep)
  const exited = once(child, 'exit')
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    await rm(runDir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    const text = await readFile(join(runDir, 'state.json'), 'utf8').catch(() => undefined)
    const ports = text === undefined ? undefined : (JSON.parse(text) as { ports: SdRun['ports'] }).ports
    if (ports?.tcp) {
      const reload = async (): Promise<string> => {
        const r = await sdCommand(['reload'], runDir, env)
        if (r.code !== 0) throw new Error(`sd reload exited ${r.code}: ${r.out}`)
        return r.out.trim()
      }
      return { args, child, runDir, ports, tail: () => out, reload, stop }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`sd start ${args.join(' ')} did not start:\n${out}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
