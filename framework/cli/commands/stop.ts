import { Command, Flags } from '@oclif/core'
import { loadConfig } from '../../server/config.js'
import { appRoot, rootFlag } from '../context.js'
import { sendControl } from '../control.js'
import { clearRunFiles, isSdProcess, processAlive, readPid, readState, runPaths } from '../run-state.js'

function kill (pid: number, signal: NodeJS.Signals): void {
  try { process.kill(pid, signal) } catch {}
}

/** `sd stop`: graceful, then forced. */
export default class Stop extends Command {
  static override summary = 'Stop the server running from this folder: gracefully, then forced after a timeout.'
  static override flags = {
    timeout: Flags.integer({ description: 'ms to wait for a graceful stop before killing (default: server.shutdownTimeoutMs + 10 s)' }),
    dispatch: Flags.boolean({ description: 'stop the dispatch server started from this folder (sd start --dispatch)', default: false }),
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Stop)
    const root = appRoot(flags.root)
    const paths = runPaths(root, flags.dispatch ? 'dispatch' : 'server')
    const found = await readPid(paths)
    if (!found) return this.log('not running')
    // the control socket proves the pid is our server; without it, /proc must say it is an sd
    // process, so a pid recycled by another program is never signalled
    const answer = found.alive ? await sendControl(paths.socket, 'stop', 5000).catch(() => undefined) : undefined
    const asked = answer?.ok === true
    // the server says how long its graceful stop may take (split mode: workers, then the gateway)
    const announced = answer?.ok ? (answer.data as { stopTimeoutMs?: unknown }).stopTimeoutMs : undefined
    if (!asked && (!found.alive || !(await isSdProcess(found.pid)))) {
      await clearRunFiles(paths)
      return this.log(`not running (removed a stale pid file for pid ${found.pid})`)
    }
    if (!asked) kill(found.pid, 'SIGTERM')
    const timeoutMs = flags.timeout ?? (typeof announced === 'number' ? announced + 5000 : (await loadConfig({ root }).then((c) => c.server.shutdownTimeoutMs, () => 10_000)) + 10_000)
    const state = await readState(paths)
    const deadline = Date.now() + timeoutMs
    while (processAlive(found.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    if (processAlive(found.pid)) {
      this.warn(`pid ${found.pid} did not stop within ${timeoutMs} ms: killing it and its workers`)
      kill(found.pid, 'SIGKILL')
      for (const pid of state?.workerPids ?? []) if (await isSdWorker(pid)) kill(pid, 'SIGKILL')
      await clearRunFiles(paths)
      return this.log(`killed (pid ${found.pid})`)
    }
    await clearRunFiles(paths)
    this.log(`stopped (pid ${found.pid})`)
  }
}

/** A worker pid from state.json that still runs node (not a recycled pid of something else). */
async function isSdWorker (pid: number): Promise<boolean> {
  if (!processAlive(pid)) return false
  const { readFile } = await import('node:fs/promises')
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined)
  return cmdline === undefined ? process.platform !== 'linux' : cmdline.includes('worker-process-main')
}
