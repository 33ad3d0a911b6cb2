/**
 * Graceful shutdown. End to end: the real `sd start` process on SIGTERM tells every open
 * client SD_ERR_SHUTTING_DOWN, closes it and exits 0. In process: requests still running when
 * `stop()` is called finish and are answered before the connections close and `stop()` resolves.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { Controller } from '../../framework/index.js'
import { http, LineClient, portOf, root, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'
import { childEnv, startSd } from './sd-process.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../free-port.js'

/** Resolves true when a TCP connection to `port` is refused, false when it is accepted. */
function refused (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}


describe('sd start + SIGTERM (real process)', () => {
  test('exits 0; open TCP, WebSocket and text clients get SD_ERR_SHUTTING_DOWN, then a close', async (t) => {
    const [tcpPort, textPort, httpPort] = [await freePort(), await freePort(), await freePort()]
    const runDir = await mkdtemp(join(tmpdir(), 'sd-run-'))
    t.after(() => rm(runDir, { recursive: true, force: true }))
    const child = spawn(process.execPath, ['bin/sd.js', 'start'], {
      cwd: root,
      env: { ...childEnv(), SD_TCP_PORT: String(tcpPort), SD_TEXT_PORT: String(textPort), SD_HTTP_PORT: String(httpPort), SD_NODE_NAME: 'e2e-shutdown', SD_RUN_DIR: runDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
    const logs: Array<Record<string, unknown>> = []
    let stderr = ''
    let partial = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() ?? ''
      for (const l of lines) {
        try { logs.push(JSON.parse(l) as Record<string, unknown>) } catch { logs.push({ raw: l }) }
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const says = (prefix: string): boolean => logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix))

    await waitUntil(() => says('tcp listening on') || child.exitCode !== null, 15_000, 'the server to listen')
    assert.equal(child.exitCode, null, `server exited early: ${stderr}`)
    assert.ok(logs.some((l) => String(l.msg).startsWith('tcp listening on') && String(l.msg).endsWith(`:${tcpPort}`)), 'listens on SD_TCP_PORT')

    const tcp = await TcpClient.connect(tcpPort)
    const ws = await WsClient.connect(httpPort)
    const line = await LineClient.connect(textPort)
    try {
      assert.deepEqual(await tcp.request('/bench/echo', { before: 'shutdown' }), { id: 1, data: { before: 'shutdown' } })
      assert.deepEqual((await ws.request('/bench/echo', 'ws')).data, 'ws')
      assert.match(await line.next(), /^SD chat\. Your nickname\?/)
      line.send('alice')
      assert.match(await line.next(), /^welcome alice\b/)
      const res = await http(httpPort, '/bench/echo?x=1')
      assert.deepEqual(res.body, { x: '1' })

      const sentAt = Date.now()
      child.kill('SIGTERM')
      const [code, signal] = await Promise.race([
        exited,
        new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`no exit within 8 s; stderr: ${stderr}`)), 8000).unref()),
      ])
      assert.equal(signal, null, 'exited by itself, not killed by the signal')
      assert.equal(code, 0, `exit code 0 (stderr: ${stderr})`)
      assert.ok(Date.now() - sentAt < 8000)

      await tcp.waitClosed()
      const tcpErr = tcp.received.find((m) => m.error !== undefined)
      assert.equal(tcpErr?.error?.code, 'SD_ERR_SHUTTING_DOWN', `TCP got ${JSON.stringify(tcp.received)}`)
      assert.equal(tcpErr !== undefined && 'id' in tcpErr, false, 'a push, without id')

      await ws.waitClosed()
      assert.equal(ws.received.find((m) => m.error !== undefined)?.error?.code, 'SD_ERR_SHUTTING_DOWN', `WS got ${JSON.stringify(ws.received)}`)
      assert.equal(ws.closeCode, 1001, 'WebSocket closed as "going away"')

      await line.waitClosed()
      assert.ok(line.received.some((l) => /^ERROR SD_ERR_SHUTTING_DOWN\b/.test(l)), `text got ${JSON.stringify(line.received)}`)

      assert.equal(await refused(tcpPort), true, 'the TCP port is released')
    } finally {
      tcp.close()
      ws.close()
      line.close()
    }
  })

  test('an HTTP connection that never sends a request does not hold the worker: it is closed and the worker stops by itself', async () => {
    const sd = await startSd([])
    let stopped = false
    try {
      // what a browser's pre-opened connection does: connect, send nothing
      const idle = connect(sd.ports.http, '127.0.0.1')
      idle.on('error', () => {})
      const idleClosed = once(idle, 'close')
      await once(idle, 'connect')
      const code = await sd.stop()
      stopped = true
      await idleClosed
      assert.equal(code, 0, sd.output())
      const killed = sd.logs.some((l) => String(l.msg).startsWith('worker did not stop in time'))
      assert.equal(killed, false, 'the worker was not killed after the stop timeout')
      assert.ok(sd.logs.some((l) => l.msg === 'stopped' && l.role === undefined), 'the worker logged its own clean stop')
    } finally {
      if (!stopped) await sd.stop()
    }
  })
})

/** A promise with its resolver. */
function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

/** Gate shared with SlowController: actions wait on it; `started` counts them. */
let gate = deferred()
let started = 0

class SlowController extends Controller {
  async wait (data: unknown): Promise<unknown> {
    started++
    await gate.promise
    return { done: data }
  }

  echo (data: unknown): unknown {
    return data
  }
}

describe('stop() with requests in flight (in process)', () => {
  test('running requests finish and are answered; then clients get SD_ERR_SHUTTING_DOWN and a close; stop() resolves last', async (t) => {
    gate = deferred()
    started = 0
    const app = await startApp({}, { controllers: [SlowController] })
    t.after(() => { gate.resolve(); return app.stop() })
    const tcpPort = portOf(app, 'tcp')
    const httpPort = portOf(app, 'http')
    const c = await TcpClient.connect(tcpPort)
    const ws = await WsClient.connect(httpPort)
    t.after(() => { c.close(); ws.close() })
    const events: string[] = []

    const tcpReply = c.request('/slow/wait', 'tcp').then((m) => { events.push('tcp reply'); return m })
    const wsReply = ws.request('/slow/wait', 'ws').then((m) => { events.push('ws reply'); return m })
    const httpReply = http(httpPort, '/slow/wait', {
      method: 'POST', body: JSON.stringify('http'), headers: { 'content-type': 'application/json' },
    }).then((r) => { events.push('http reply'); return r })
    await waitUntil(() => started === 3, 3000, 'the three slow actions to start')

    const stopping = app.stop().then(() => { events.push('stopped') })
    // Stopping: no new connections, new requests are refused, running ones still wait.
    await waitUntil(() => refused(tcpPort), 3000, 'the TCP port to stop accepting')
    const late = await c.request('/slow/echo', 'late')
    assert.equal(late.error?.code, 'SD_ERR_SHUTTING_DOWN', JSON.stringify(late))
    assert.equal(late.id, 2)
    assert.deepEqual(events, [], 'nothing answered and stop() pending while the actions run')
    assert.equal(c.closed, false, 'connections stay open while requests run')
    assert.equal(ws.closed, false)

    gate.resolve()
    assert.deepEqual(await tcpReply, { id: 1, data: { done: 'tcp' } })
    assert.deepEqual(await wsReply, { id: 1, data: { done: 'ws' } })
    const h = await httpReply
    assert.equal(h.status, 200)
    assert.deepEqual(h.body, { done: 'http' })

    await c.waitClosed()
    assert.deepEqual(c.received.map((m) => m.error?.code), ['SD_ERR_SHUTTING_DOWN'], 'then the shutdown push')
    await ws.waitClosed()
    assert.equal(ws.closeCode, 1001)
    await stopping
    assert.equal(events.at(-1), 'stopped', `stop() resolved after the replies: ${events.join(', ')}`)
    assert.equal(app.status, 'closed')
  })

  test('HTTP: connections with no request in flight close when stop() begins; a request in flight still finishes', async (t) => {
    gate = deferred()
    started = 0
    const app = await startApp({}, { controllers: [SlowController] })
    const sockets: Socket[] = []
    t.after(() => { for (const s of sockets) s.destroy(); gate.resolve(); return app.stop() })
    const httpPort = portOf(app, 'http')
    const closed = new Set<string>()
    const raw = async (name: string): Promise<Socket> => {
      const s = connect(httpPort, '127.0.0.1')
      s.on('error', () => {})
      s.once('close', () => closed.add(name))
      sockets.push(s)
      await once(s, 'connect')
      return s
    }
    // one connection that never sends anything, one kept alive after a request
    await raw('silent')
    const kept = await raw('kept-alive')
    kept.write('GET /slow/echo?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n')
    let answer = ''
    kept.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk })
    await waitUntil(() => answer.includes('"x":"1"'), 3000, 'the kept-alive request to be answered')
    assert.doesNotMatch(answer, /connection: close/i, 'the connection is kept alive')

    let replied = false
    const httpReply = http(httpPort, '/slow/wait', {
      method: 'POST', body: JSON.stringify('late'), headers: { 'content-type': 'application/json' },
    }).then((r) => { replied = true; return r })
    await waitUntil(() => started === 1, 3000, 'the slow action to start')

    const stopping = app.stop()
    await waitUntil(() => closed.size === 2, 3000, 'the idle HTTP connections to close while a request runs')
    assert.equal(replied, false, 'the request in flight is still running')
    gate.resolve()
    const h = await httpReply
    assert.equal(h.status, 200)
    assert.deepEqual(h.body, { done: 'late' })
    await stopping
    assert.equal(app.status, 'closed')
  })

  test('a request still running after shutdownTimeoutMs does not hold stop() forever', async (t) => {
    gate = deferred()
    started = 0
    const app = await startApp({ server: { shutdownTimeoutMs: 200 } }, { controllers: [SlowController] })
    t.after(() => { gate.resolve(); return app.stop() })
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    t.after(() => c.close())
    c.frame(JSON.stringify({ id: 'never', path: '/slow/wait', data: 1 }))
    await waitUntil(() => started === 1, 3000, 'the action to start')
    const t0 = Date.now()
    await app.stop()
    const took = Date.now() - t0
    assert.ok(took >= 190, `waited for the timeout first (${took} ms)`)
    assert.ok(took < 3000, `then stopped (${took} ms)`)
    await c.waitClosed()
    assert.deepEqual(c.received.map((m) => m.error?.code), ['SD_ERR_SHUTTING_DOWN'])
  })
})
