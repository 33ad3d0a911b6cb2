/** Running the real `sd start` in a child process, with its own run folder. */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root, waitUntil } from '../helpers.js'

/** This process's environment minus what the test runner sets for its own children. */
export function childEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  delete env.NODE_TEST_CONTEXT
  delete env.NODE_OPTIONS
  return env
}

/** A running `sd start`. */
export interface SdServer {
  child: ChildProcess
  runDir: string
  /** Ports from `state.json`. */
  ports: { tcp: number, text: number, http: number }
  /** Every JSON log line seen so far. */
  logs: Array<Record<string, unknown>>
  output: () => string
  /** SIGTERM and wait for the exit code. */
  stop: () => Promise<number | null>
}

/**
 * Starts `sd start ...args` for the demo app on free ports; resolves once `state.json` is written.
 * `nofile`: run it under `prlimit --nofile=N:N` (the pid stays the server's: prlimit execs it).
 */
export async function startSd (args: string[], env: Record<string, string> = {}, nofile?: number): Promise<SdServer> {
  const runDir = await mkdtemp(join(tmpdir(), 'sd-run-'))
  const command = [process.execPath, 'bin/sd.js', 'start', ...args]
  if (nofile !== undefined) command.unshift('prlimit', `--nofile=${nofile}:${nofile}`)
  const child = spawn(command[0], command.slice(1), {
    cwd: root,
    env: childEnv({ SD_TCP_PORT: '0', SD_TEXT_PORT: '0', SD_HTTP_PORT: '0', SD_RUN_DIR: runDir, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Array<Record<string, unknown>> = []
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    for (const line of chunk.split('\n')) {
      try { logs.push(JSON.parse(line) as Record<string, unknown>) } catch {}
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const exited = once(child, 'exit')
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const [code] = await exited as [number | null]
    await rm(runDir, { recursive: true, force: true })
    return code
  }
  try {
    const state = await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`sd start exited early: ${out}`)
      const text = await readFile(join(runDir, 'state.json'), 'utf8').catch(() => undefined)
      return text ? JSON.parse(text) as { ports: SdServer['ports'] } : undefined
    }, 30_000, 'sd start to serve')
    return { child, runDir, ports: state.ports, logs, output: () => out, stop }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}
