import { Controller, type Html } from '../../framework/index.js'

/**
 * The chat web page (`GET /`) and a status page (`GET /status`), both eta views. The status
 * page shows internals (node names, pids, memory): an admin action, for loopback callers only,
 * or for anyone with `Authorization: Bearer $SD_ADMIN_TOKEN` when that is set.
 */
export class HomeController extends Controller {
  static transports = { index: ['http' as const], status: ['http' as const] }
  static admin = ['status']
  /** The page itself is open when auth is on: it authenticates its WebSocket with `?token=`. */
  static public = ['index']

  index (): Html {
    const { room } = this.request.query as { room?: string }
    return this.view('chat/index', { title: 'SD chat', appName: this.config.app.name, room: room || 'lobby', headline: 'connecting…' })
  }

  async status (): Promise<Html> {
    const stats = this.nodeStats()
    const names = await this.groups()
    const rooms = await Promise.all(names.sort().map(async (room) => ({ room, count: await this.groupCount(room) })))
    return this.view('status', {
      title: 'status',
      appName: this.config.app.name,
      headline: stats.node,
      node: `${stats.node} (pid ${stats.pid})`,
      uptime: formatUptime(stats.uptimeMs),
      connections: await this.serverConnections(),
      online: await this.onlineCount(),
      rssMb: (stats.rssBytes / 1024 / 1024).toFixed(1),
      rooms,
      // sd start --cluster: every node of the cluster, from the registry in Redis
      cluster: await this.clusterStatus(),
    })
  }
}

function formatUptime (ms: number): string {
  const s = Math.floor(ms / 1000)
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`
}
