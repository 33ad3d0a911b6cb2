import { Command, Flags } from '@oclif/core'
import { appRoot, rootFlag } from '../context.js'
import { ControlTimeoutError, sendControl } from '../control.js'
import { clearRunFiles, readPid, runPaths } from '../run-state.js'
import type { ServerStatus } from '../../cluster/primary.js'

function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}

/** `sd status`: pid, uptime, workers, connections per port, memory. */
export default class Status extends Command {
  static override summary = 'Show the running server: pid, uptime, workers, connections per port, memory.'
  static override flags = {
    json: Flags.boolean({ description: 'print the status as JSON', default: false }),
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Status)
    const paths = runPaths(appRoot(flags.root))
    const answer = await sendControl(paths.socket, 'status', 10_000).catch((err: unknown) => {
      if (err instanceof ControlTimeoutError) this.error('the server does not answer (busy or stuck): no status within 10 s', { exit: 1 })
      return undefined
    })
    if (!answer?.ok) {
      const found = await readPid(paths)
      if (found && !found.alive) {
        await clearRunFiles(paths)
        this.error(`not running (removed a stale pid file for pid ${found.pid})`, { exit: 1 })
      }
      this.error('not running', { exit: 1 })
    }
    const s = answer.data as ServerStatus
    if (flags.json) return this.log(JSON.stringify(s, null, 2))
    const ports = Object.entries(s.ports).map(([t, p]) => `${t} ${p}`).join(', ')
    this.log(`pid ${s.pid}, ${s.status}, up ${duration(s.uptimeMs)}, ports: ${ports}`)
    this.log(`connections: ${Object.entries(s.connections).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}`)
    for (const w of s.workers) {
      const c = Object.entries(w.stats?.connections ?? {}).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'
      const rss = w.stats ? `${(w.stats.rssBytes / 1024 / 1024).toFixed(1)} MB` : '?'
      if (w.state === 'down') this.log(`  worker ${w.id}: down (restarting), restarts ${w.restarts}`)
      else this.log(`  worker ${w.id}: pid ${w.pid}, up ${duration(w.uptimeMs)}, restarts ${w.restarts}, rss ${rss}, connections ${c}`)
    }
  }
}
