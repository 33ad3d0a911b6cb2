/**
 * `sd start --split --workers 2` of test/e2e/gateway-app (a copy the test edits), real
 * processes. A reload under TCP, WebSocket and telnet-style text clients that keep sending:
 * none is closed, every request is answered by value, and requests sent after the reload are
 * answered by the edited controller. Then a worker killed with SIGKILL while requests are in
 * flight on it: each of them is answered (a value or SD_ERR_WORKER_LOST), no connection closes,
 * later requests succeed, and the worker is started again.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LineClient, TcpClient, waitUntil, WsClient } from '../helpers.js'
import { copyApp, jsonSender, lineSender, reload, startGatewayRun, workerPidsOf, type Answer, type Sender, type SdServer } from './gateway-procs.js'

/** True when every sender passes `test`; throws as soon as one was closed or left a request unanswered. */
function every (senders: Sender[], test: (s: Sender) => boolean): boolean {
  for (const s of senders) s.check()
  return senders.every(test)
}

/** The version of the code that produced an answer (`{version}` on JSON, `<version> ping n` on the text port). */
function versionOf (a: Answer): string | undefined {
  if (typeof a.value === 'string') return a.value.split(' ')[0]
  return (a.value as { version?: string } | undefined)?.version
}

describe('sd start --split --workers 2 (real processes)', { timeout: 120_000 }, () => {
  let app: { dir: string, remove: () => Promise<void> }
  let server: SdServer
  const clients: Array<{ close: () => void }> = []
  /** Senders stop at the end even when an assertion failed first. */
  const halt = (senders: Sender[]): void => { for (const s of senders) clients.unshift({ close: () => { s.stop().catch(() => {}) } }) }

  before(async () => {
    app = await copyApp()
    server = await startGatewayRun(app.dir, ['--split', '--workers', '2'])
  })
  after(async () => {
    for (const c of clients) c.close()
    await server?.stop()
    await app?.remove()
  })

  test('sd reload under TCP, WebSocket and text clients: none closed, every request answered, new code after it', async () => {
    const tcp = await TcpClient.connect(server.ports.tcp)
    const ws = await WsClient.connect(server.ports.http)
    const text = await LineClient.connect(server.ports.text)
    clients.push(tcp, ws, text)
    const senders: Sender[] = [
      jsonSender('tcp', tcp, '/api/echo', (i) => ({ i }), 4),
      jsonSender('ws', ws, '/api/echo', (i) => ({ i }), 4),
      lineSender('text', text),
    ]
    halt(senders)
    // every transport answers from the old code before the reload
    await waitUntil(() => every(senders, (s) => s.answers.length >= 5), 15_000, 'answers from every client')
    for (const s of senders) assert.equal(versionOf(s.answers[0]), 'v1', `${s.name} answered by v1`)

    const controller = join(app.dir, 'app/controllers/ApiController.ts')
    await writeFile(controller, (await readFile(controller, 'utf8')).replace("VERSION = 'v1'", "VERSION = 'v2'"))
    const countsAtReload = senders.map((s) => s.answers.length)
    await reload(server)
    const reloaded = Date.now()
    await waitUntil(() => every(senders, (s) => s.answers.some((a) => a.sentAt > reloaded)), 15_000, 'answers sent after the reload')
    await Promise.all(senders.map((s) => s.stop()))

    for (const [i, s] of senders.entries()) {
      assert.equal(s.closed(), false, `${s.name}: the connection stayed open`)
      assert.ok(s.answers.length > countsAtReload[i], `${s.name} was answered during the reload`)
      assert.deepEqual(s.answers.filter((a) => !a.ok), [], `${s.name}: no error answers`)
      const late = s.answers.filter((a) => a.sentAt > reloaded)
      assert.deepEqual([...new Set(late.map(versionOf))], ['v2'], `${s.name}: requests after the reload run the new code`)
    }
    // answers are the values sent (and the text port's lines name what was typed)
    for (const s of senders.slice(0, 2)) assert.ok(s.answers.every((a) => typeof (a.value as { data?: { i?: unknown } }).data?.i === 'number'))
    assert.ok(senders[2].answers.every((a) => /^v[12] ping \d+$/.test(String(a.value))))
  })

  test('a worker killed with SIGKILL mid-stream: its requests answered SD_ERR_WORKER_LOST, no connection closed, the worker is restarted', async () => {
    // state.json may list the gateway too: the workers are the processes that answer
    const before = await workerPidsOf(server)
    const tcp = [await TcpClient.connect(server.ports.tcp), await TcpClient.connect(server.ports.tcp)]
    const ws = await WsClient.connect(server.ports.http)
    clients.push(...tcp, ws)
    const senders = [
      ...tcp.map((c, i) => jsonSender(`tcp${i}`, c, '/api/slow', (n) => ({ n, ms: 100 }), 6)),
      jsonSender('ws', ws, '/api/slow', (n) => ({ n, ms: 100 }), 6),
    ]
    halt(senders)
    const answered = (): Answer[] => senders.flatMap((s) => s.answers.filter((a) => a.ok))
    // both workers are busy before one is killed
    const pids = (): Set<number> => new Set(answered().map((a) => (a.value as { pid: number }).pid))
    await waitUntil(() => every(senders, () => true) && pids().size === 2, 15_000, 'answers from both workers')
    const [victim, survivor] = [...pids()]
    assert.ok(before.includes(victim) && before.includes(survivor), `state.json lists the workers: ${JSON.stringify(before)}`)
    process.kill(victim, 'SIGKILL')
    const killedAt = Date.now()
    await waitUntil(() => every(senders, (s) => s.answers.some((a) => a.sentAt > killedAt + 500 && a.ok)), 15_000, 'answers after the kill')
    await Promise.all(senders.map((s) => s.stop())) // rejects if any request went unanswered

    const all = senders.flatMap((s) => s.answers)
    const codes = new Set(all.filter((a) => !a.ok).map((a) => a.code))
    assert.deepEqual([...codes].filter((c) => c !== 'SD_ERR_WORKER_LOST'), [], 'the only error answer is SD_ERR_WORKER_LOST')
    assert.ok(all.some((a) => a.code === 'SD_ERR_WORKER_LOST'), 'the requests in flight on the killed worker were answered SD_ERR_WORKER_LOST')
    for (const s of senders) assert.equal(s.closed(), false, `${s.name}: the connection stayed open`)
    const late = all.filter((a) => a.sentAt > killedAt + 500)
    assert.ok(late.length > 0 && late.every((a) => a.ok && (a.value as { pid: number }).pid !== victim), 'later requests succeed on the other worker')

    const restarted = await waitUntil(async () => {
      const now = await workerPidsOf(server)
      return now.length === before.length && !now.includes(victim) ? now : undefined
    }, 30_000, 'the killed worker to be restarted')
    assert.ok(restarted.includes(survivor), 'the other worker was left alone')
    // the new worker serves: requests reach it
    const newPid = restarted.find((p) => !before.includes(p))
    const probe = jsonSender('probe', tcp[0], '/api/slow', (n) => ({ n, ms: 50 }), 6)
    halt([probe])
    await waitUntil(() => probe.answers.some((a) => a.ok && (a.value as { pid: number }).pid === newPid), 15_000, 'an answer from the new worker')
    await probe.stop()
  })
})
