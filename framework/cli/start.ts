/**
 * `sd start`: boots the application in a folder and shuts it down gracefully on SIGTERM or
 * SIGINT (stop accepting, finish running requests within `shutdownTimeoutMs`, close, exit 0).
 */
import { createApp, type Application } from '../core/application.js'

/** Starts the app at `root` and wires the signals; resolves once it is serving. */
export async function startServer (root: string): Promise<Application> {
  const app = await createApp({ root })
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    app.log.info({ signal }, 'shutting down')
    app.stop().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  await app.start()
  return app
}
