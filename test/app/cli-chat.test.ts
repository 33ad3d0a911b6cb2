/**
 * app/cli-chat.ts: the terminal chat on the SDK, through a proxy that drops its link: it logs
 * in, shows room and private messages, sends with `/to`, resumes as the same uid after the drop,
 * and `/quit` closes it.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { startApp, portOf, TcpClient, waitUntil, root } from '../helpers.js'
import { startProxy, type TestProxy } from '../proxy.js'
import { parseArgs, runCliChat } from '../../app/cli-chat.js'

/** The CLI's output, line by line. */
function terminal (): { input: PassThrough, output: PassThrough, lines: string[], line: (re: RegExp) => Promise<string> } {
  const input = new PassThrough()
  const output = new PassThrough()
  const lines: string[] = []
  let rest = ''
  output.setEncoding('utf8')
  output.on('data', (s: string) => {
    const parts = (rest + s).split('\n')
    rest = parts.pop() ?? ''
    lines.push(...parts)
  })
  const line = (re: RegExp): Promise<string> => waitUntil(() => lines.find((l) => re.test(l)), 5000, `a line ${re}`)
  return { input, output, lines, line }
}

/** An app, a dropping proxy to its TCP port, ann logged in directly, and the CLI through the proxy, signed in as `cli`. */
async function chatWithCli (t: TestContext, config: Record<string, unknown>): Promise<{ proxy: TestProxy, ann: TcpClient, annUid: string, term: ReturnType<typeof terminal>, done: Promise<void>, uid: string }> {
  const app = await startApp({ chat: { tokenSecret: 'cli-test' }, ...config })
  t.after(() => app.stop())
  const proxy = await startProxy(portOf(app, 'tcp'))
  t.after(() => proxy.close())
  const ann = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => ann.close())
  const annUid = ((await ann.request('/chat/login', { name: 'ann' })).data as { uid: string }).uid
  const term = terminal()
  const done = runCliChat({ url: `tcp://127.0.0.1:${proxy.port}`, name: 'cli', input: term.input, output: term.output })
  t.after(async () => { term.input.end(); await done })
  const uid = /uid is (\d+)/.exec(await term.line(/^welcome cli, your uid is \d+ \(room lobby\)/))?.[1]
  assert.ok(uid)
  return { proxy, ann, annUid, term, done, uid }
}

test('the terminal chat logs in, chats, resumes as the same uid after its link drops, and quits', async (t) => {
  const { proxy, ann, annUid, term, done, uid } = await chatWithCli(t, {})
  await ann.next((m) => (m.data as { type?: string })?.type === 'join')

  await ann.request('/chat/say', { text: 'hi cli' })
  await term.line(new RegExp(`^ann\\(${annUid}\\) says: hi cli$`))
  term.input.write('hello ann\n')
  assert.equal(((await ann.next((m) => (m.data as { type?: string })?.type === 'say')).data as { text: string }).text, 'hello ann')
  term.input.write(`/to ${annUid} just you\n`)
  const direct = (await ann.next((m) => (m.data as { type?: string })?.type === 'say')).data as { text: string, private: boolean, from: { uid: string } }
  assert.deepEqual([direct.text, direct.private, direct.from.uid], ['just you', true, uid])
  term.input.write('/to nobody\n')
  await term.line(/^usage: \/to <uid> text$/)

  // the link drops and stays refused a while: the CLI says so, then resumes as the same user
  proxy.refuse(true)
  assert.equal(proxy.drop(), 1)
  await term.line(/^connection lost; reconnecting…$/)
  await waitUntil(() => proxy.refused > 0, 5000, 'a refused reconnect')
  proxy.refuse(false)
  await term.line(new RegExp(`^reconnected as cli, uid ${uid} in lobby$`))
  await ann.request('/chat/say', { to: uid, text: 'welcome back' })
  await term.line(new RegExp(`^ann\\(${annUid}\\) says to you: welcome back$`))

  term.input.write('/quit\n')
  await done
  assert.equal(term.lines.at(-1), 'bye')
  await waitUntil(() => proxy.open === 0, 3000, 'the CLI to close its connection')
})

test('the terminal chat prints, marked and in order, what the room and its uid were sent while its link was down; a gap is noted', async (t) => {
  const { proxy, ann, annUid, term, uid } = await chatWithCli(t, { recovery: { store: 'memory', maxCount: 3 } })
  await ann.request('/chat/say', { text: 'live one' })
  await term.line(/says: live one$/)

  // down: two room messages and a private one are kept; back: printed marked, in order
  proxy.refuse(true)
  proxy.drop()
  await term.line(/^connection lost; reconnecting…$/)
  await ann.request('/chat/say', { text: 'missed one' })
  await ann.request('/chat/say', { text: 'missed two' })
  assert.deepEqual((await ann.request('/chat/say', { to: uid, text: 'missed private' })).data, { delivered: 0, stored: false })
  proxy.refuse(false)
  await term.line(/^reconnected as cli/)
  await term.line(/\[missed\] .*missed private$/)
  await term.line(/\[missed\] .*missed two$/)
  const shown = term.lines.filter((l) => l.startsWith('[missed]'))
  const room = shown.filter((l) => !l.includes('to you'))
  assert.deepEqual(room, [`[missed] ann(${annUid}) says: missed one`, `[missed] ann(${annUid}) says: missed two`])
  assert.ok(shown.includes(`[missed] ann(${annUid}) says to you: missed private`))
  assert.equal(term.lines.filter((l) => l.includes('live one')).length, 1, 'nothing delivered twice')

  // down again for more than the history keeps (3): a gap is noted, the last 3 are printed
  proxy.refuse(true)
  proxy.drop()
  await waitUntil(() => term.lines.filter((l) => l === 'connection lost; reconnecting…').length === 2, 5000, 'the second drop')
  for (const n of [1, 2, 3, 4, 5]) await ann.request('/chat/say', { text: `burst ${n}` })
  proxy.refuse(false)
  await term.line(/no longer kept/)
  await term.line(/\[missed\] .*burst 5$/)
  assert.deepEqual(term.lines.filter((l) => l.includes('burst')).map((l) => l.replace(/^.*: /, '')), ['burst 3', 'burst 4', 'burst 5'])
})

test('cli-chat: arguments, and a usage line without a name', async () => {
  assert.deepEqual(parseArgs(['--url', 'ws://h:1/ws', 'bo']), { url: 'ws://h:1/ws', room: undefined, name: 'bo' })
  assert.deepEqual(parseArgs(['bo', '--room', 'games']), { url: undefined, room: 'games', name: 'bo' })
  assert.equal(parseArgs([]), undefined)
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/cli-chat.ts'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s })
  const [code] = await once(child, 'exit') as [number]
  assert.equal(code, 2)
  assert.match(err, /^usage: node --import tsx app\/cli-chat.ts/)
})
