import { Command, Flags } from '@oclif/core'
import { appRoot } from '../context.js'
import { sendControl } from '../control.js'
import { clearRunFiles, processAlive, readPid, readState, runPaths } from '../run-state.js'

/** `sd stop`: graceful, then forced. */
export default class Stop extends Command {
  static override summary = 'Stop the server running from this folder: gracefully, then forced after a timeout.'
  static override flags = {
    timeout: Flags.integer({ description: 'ms to wait for a graceful stop before killing', default: 20_000 }),
    root: Flags.directory({ description: 'application folder', default: '.', exists: true }),
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Stop)
    const paths = runPaths(appRoot(flags.root))
    const found = await readPid(paths)
    if (!found) return this.log('not running')
    if (!found.alive) {
      await clearRunFiles(paths)
      return this.log(`not running (removed a stale pid file for pid ${found.pid})`)
    }
    const state = await readState(paths)
    // the control socket proves the pid is ours; a signal does the same job when it does not answer
    const asked = await sendControl(paths.socket, 'stop', 2000).then((a) => a.ok, () => false)
    if (!asked) process.kill(found.pid, 'SIGTERM')
    const deadline = Date.now() + flags.timeout
    while (processAlive(found.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    if (processAlive(found.pid)) {
      this.warn(`pid ${found.pid} did not stop within ${flags.timeout} ms: killing it`)
      for (const pid of [found.pid, ...(state?.workerPids ?? [])]) if (processAlive(pid)) process.kill(pid, 'SIGKILL')
      await clearRunFiles(paths)
      return this.log(`killed (pid ${found.pid})`)
    }
    await clearRunFiles(paths)
    this.log(`stopped (pid ${found.pid})`)
  }
}
