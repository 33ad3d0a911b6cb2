/**
 * A small terminal chat on the client SDK: `node --import tsx app/cli-chat.ts [--url
 * tcp://127.0.0.1:9093] [--room lobby] name`. Lines go to the room; `/to <uid> text` to one
 * user; `/quit` leaves. After a reconnect it resumes with its token (same uid and room) and
 * prints what it missed meanwhile, marked `[missed]`; a token the server refuses (restarted
 * without a shared secret) means a fresh login with the same name.
 */
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import type { Readable, Writable } from 'node:stream'
import { connect, SdClientError, type SdClient } from '../framework/client/index.js'
import { renderLine } from './services/chat.js'

/** Where the chat runs: the server, the user, and the terminal's streams. */
export interface CliChatOptions {
  /** @default 'tcp://127.0.0.1:9093' */
  url?: string
  name: string
  /** @default 'lobby' */
  room?: string
  input: Readable
  output: Writable
}

interface Login { uid: string, name: string, room: string, token: string }

/** Parses `[--url u] [--room r] name`; undefined when the name is missing. */
export function parseArgs (argv: string[]): { url?: string, room?: string, name: string } | undefined {
  const out: { url?: string, room?: string, name?: string } = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--url') out.url = argv[++i]
    else if (a === '--room') out.room = argv[++i]
    else if (out.name === undefined) out.name = a
  }
  return out.name ? { url: out.url, room: out.room, name: out.name } : undefined
}

/** Runs the chat until `/quit` or the end of input; resolves once the client is closed. */
export async function runCliChat (options: CliChatOptions): Promise<void> {
  const print = (line: string): void => { options.output.write(`${line}\n`) }
  const wanted = { name: options.name, room: options.room ?? 'lobby' }
  let token: string | undefined
  let me: Login | undefined
  let away = false

  /** Resume with the token when there is one, else log in with the same name. */
  const signIn = async (call: SdClient['call']): Promise<void> => {
    let got: Login | undefined
    if (token !== undefined) {
      try {
        got = await call('/chat/resume', { token }) as Login
      } catch (err) {
        if ((err as SdClientError).code !== 'CHAT_ERR_BAD_TOKEN') throw err
        token = undefined
      }
    }
    const resumed = got !== undefined
    got ??= await call('/chat/login', wanted) as Login
    const before = me?.uid
    me = got
    token = got.token
    if (before === undefined) print(`welcome ${got.name}, your uid is ${got.uid} (room ${got.room}); /to <uid> text, /quit`)
    else if (resumed) print(`reconnected as ${got.name}, uid ${got.uid} in ${got.room}`)
    else print(`reconnected: logged in again as ${got.name}, uid ${got.uid}${got.uid === before ? '' : ` (was ${before})`} in ${got.room}`)
  }

  const sd = connect(options.url ?? 'tcp://127.0.0.1:9093', { onReconnect: ({ call }) => signIn(call) })
  sd.on('status', (status) => {
    if (status === 'reconnecting' && !away) { away = true; print('connection lost; reconnecting…') }
    if (status === 'open') away = false
  })
  sd.on('push', (data, meta) => {
    if (data === undefined || data === null) return
    print(`${meta.recovered ? '[missed] ' : ''}${renderLine(data)}`)
  })
  sd.on('gap', ({ stream }) => print(`[missed] some messages of ${stream} are no longer kept on the server`))
  sd.on('error', () => {}) // link errors are followed by a reconnect; calls report their own

  const closed = new Promise<void>((resolve) => sd.on('status', (s) => { if (s === 'closed') resolve() }))
  try {
    await signIn((path, data) => sd.call(path, data))
  } catch (err) {
    print(`cannot log in: ${(err as Error).message}`)
    sd.close()
    await closed
    return
  }

  const rl = createInterface({ input: options.input, terminal: false })
  rl.on('line', (line) => {
    const text = line.trim()
    if (text === '') return
    if (text === '/quit') { rl.close(); return }
    const direct = /^\/to\s+(\S+)\s+(.+)$/.exec(text)
    if (text.startsWith('/to') && !direct) { print('usage: /to <uid> text'); return }
    const data = direct ? { to: direct[1], text: direct[2] } : { text: line }
    sd.call('/chat/say', data).then((r) => {
      const { delivered } = r as { delivered: number }
      if (direct && delivered === 0) print(`uid ${direct[1]} is not online`)
    }, (err: unknown) => print(`not sent (${err instanceof SdClientError ? err.code : ''}): ${(err as Error).message}`))
  })
  rl.on('close', () => { print('bye'); sd.close() })
  await closed
}

// run as a program (not when imported by a test)
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = parseArgs(process.argv.slice(2))
  if (!args) {
    process.stderr.write('usage: node --import tsx app/cli-chat.ts [--url tcp://127.0.0.1:9093] [--room lobby] name\n')
    process.exitCode = 2
  } else {
    await runCliChat({ ...args, input: process.stdin, output: process.stdout })
  }
}
