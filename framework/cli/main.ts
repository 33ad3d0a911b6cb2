/**
 * Entry of the `sd` executable. This first version knows `start`; the full oclif CLI
 * (new, generate, stop, reload, status, workers) replaces this dispatcher.
 */
import { startServer } from './start.js'

const usage = `Usage: sd <command>

Commands:
  start    run the application in the current folder (TCP, text, HTTP/WebSocket ports)
`

/** Runs one command; resolves to the exit code (start keeps running until a signal). */
export async function main (argv: string[]): Promise<number> {
  const [command] = argv
  if (command === 'start') {
    await startServer(process.cwd())
    return 0
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage)
    return 0
  }
  process.stderr.write(`sd: unknown command '${command}'\n\n${usage}`)
  return 2
}
