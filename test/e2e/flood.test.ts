/**
 * Connection floods against real `sd start` processes run under `prlimit --nofile`: the flood
 * goes past the process's descriptors; the server refuses the extra sockets explicitly
 * (SD_ERR_TOO_MANY_CONNECTIONS), logs that once per interval (not per socket), answers
 * `sd status` during the flood, never crashes, and every port answers again once the flood's
 * sockets close, with one worker and with two. `stats()` itself never throws on EMFILE.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { request } from 'node:http'
import { readFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { defaultMaxConnections } from '../../framework/transport/admission.js'
import { runSd } from '../cli/run-sd.js'
import { root, waitUntil, withoutTelnetOpening } from '../helpers.js'
import { childEnv, startSd, type SdServer } from './sd-process.js'

/** The server's open-files limit in these tests, and the flood (past it) per port. */
const NOFILE = 512
const FLOOD_PER_PORT = 600

interface Flood { sockets: Socket[], refused: () => number }

/** Opens `n` sockets to each port; a socket counts as refused when the server wrote to it and closed it. */
function flood (ports: number[], n: number): Flood {
  const sockets: Socket[] = []
  let refused = 0
  for (const port of ports) {
    for (let i = 0; i < n; i++) {
      const s = connect({ port, host: '127.0.0.1' })
      let got = 0
      s.on('data', (c: Buffer) => { got += c.length })
      s.on('error', () => {})
      s.on('close', () => { if (got > 0) refused++ })
      sockets.push(s)
    }
  }
  return { sockets, refused: () => refused }
}

/** One real request per port, each on a fresh socket; true when every port answered. */
async function everyPortAnswers (ports: SdServer['ports']): Promise<boolean> {
  const tcp = new Promise<boolean>((resolve) => {
    const s = connect({ port: ports.tcp, host: '127.0.0.1' })
    const body = Buffer.from(JSON.stringify({ id: 1, path: '/bench/echo', data: 'x' }))
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length)
    let buf = Buffer.alloc(0)
    s.on('connect', () => s.write(Buffer.concat([head, body])))
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        s.destroy()
        resolve((JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString('utf8')) as { data?: unknown }).data === 'x')
      }
    })
    s.on('error', () => resolve(false))
    s.on('close', () => resolve(false))
    s.setTimeout(1000, () => { s.destroy(); resolve(false) })
  })
  const text = new Promise<boolean>((resolve) => {
    const s = connect({ port: ports.text, host: '127.0.0.1' })
    s.on('connect', () => s.write('flood\n'))
    // the first line, after the telnet opening (IAC DO BINARY) that may come in a chunk of its own
    let buf = Buffer.alloc(0)
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      if (!buf.includes('\n')) return
      s.destroy()
      resolve(!withoutTelnetOpening(buf).toString().startsWith('ERROR'))
    })
    s.on('error', () => resolve(false))
    s.on('close', () => resolve(false))
    s.setTimeout(1000, () => { s.destroy(); resolve(false) })
  })
  const http = new Promise<boolean>((resolve) => {
    const req = request({ host: '127.0.0.1', port: ports.http, path: '/bench/echo?x=1', agent: false, timeout: 1000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
  return (await Promise.all([tcp, text, http])).every(Boolean)
}

interface Status { workers: Array<{ pid: number, state: string, restarts: number, stats?: { pid: number } }> }

/** Pids of the serving workers, from the server's state.json. */
async function workerPids (server: SdServer): Promise<number[]> {
  const state = JSON.parse(await readFile(join(server.runDir, 'state.json'), 'utf8')) as { workerPids: number[] }
  return state.workerPids.sort()
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

async function status (server: SdServer): Promise<Status | undefined> {
  const run = await runSd(['status', '--json'], root, { SD_RUN_DIR: server.runDir })
  try { return JSON.parse(run.stdout) as Status } catch { return undefined }
}

for (const workers of [1, 2]) {
  describe(`sd start --workers ${workers} under prlimit --nofile=${NOFILE}, flooded past its descriptors`, () => {
    let server: SdServer
    after(async () => { await server?.stop() })

    test('refuses the extra sockets, logs once per interval, survives, and every port answers again', async () => {
      server = await startSd(['--workers', String(workers)], {}, NOFILE)
      const pids = await workerPids(server)
      assert.equal(pids.length, workers)

      const f = flood([server.ports.tcp, server.ports.text, server.ports.http], FLOOD_PER_PORT)
      try {
        // every socket beyond what the workers may hold is refused explicitly (and closed)
        const admitted = workers * defaultMaxConnections(NOFILE)
        await waitUntil(() => f.refused() >= f.sockets.length - admitted, 30_000, 'the extra sockets to be refused')
        // the status path (each worker's stats) answers during the flood
        const during = await status(server)
        assert.ok(during, 'sd status answered during the flood')
        assert.deepEqual(during.workers.map((w) => w.stats?.pid).sort(), pids, 'every worker reported its stats during the flood')
      } finally {
        for (const s of f.sockets) s.destroy()
      }
      await waitUntil(() => everyPortAnswers(server.ports), 20_000, 'every port to answer after the flood')

      assert.deepEqual(await workerPids(server), pids, 'no worker was replaced')
      assert.ok(pids.every((pid) => alive(pid)), 'every worker is alive')
      assert.doesNotMatch(server.output(), /worker crashed/)
      assert.equal(server.child.exitCode, null, 'the server process is alive')
      const lines = server.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('connections refused'))
      assert.ok(lines.length >= 1, 'the refusals are logged')
      assert.ok(lines.length * 10 < f.refused(), `logged once per interval, not per socket (${lines.length} lines for ${f.refused()} refusals)`)
    })
  })
}

test('stats() does not throw while the process is out of descriptors', async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile('prlimit', ['--nofile=256:256', process.execPath, '--import', 'tsx', 'test/e2e/emfile-stats.ts'], { cwd: root, env: childEnv(), timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
  const result = JSON.parse(out.trim().split('\n').pop() ?? '') as { ok: boolean, exhausted: string, error?: string, heapUsedBytes?: number }
  assert.equal(result.exhausted, 'EMFILE', 'the child ran out of descriptors')
  assert.deepEqual({ ok: result.ok, error: result.error }, { ok: true, error: undefined })
  assert.ok((result.heapUsedBytes ?? 0) > 0)
})
