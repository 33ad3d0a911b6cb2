import { Command, Flags } from '@oclif/core'
import { startServer } from '../start.js'
import { appRoot } from '../context.js'

/** `sd start`: runs the app in the current folder. */
export default class Start extends Command {
  static override summary = 'Run the application in the current folder (TCP, text, HTTP and WebSocket ports).'
  static override description = 'Stops gracefully on SIGTERM or SIGINT: stops accepting, finishes running requests, closes, exits 0.'
  static override examples = ['<%= config.bin %> start', 'SD_TCP_PORT=9000 <%= config.bin %> start']
  static override flags = {
    root: Flags.directory({ description: 'application folder', default: '.', exists: true }),
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Start)
    await startServer(appRoot(flags.root))
  }
}
