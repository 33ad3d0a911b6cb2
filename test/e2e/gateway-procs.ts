/**
 * Real processes of the gateway tests: a copy of an app folder the test may edit (its imports
 * of the framework made absolute), `sd start --split|--gateway|--worker` of it, `sd reload`,
 * the worker pids from `state.json`, and clients that keep sending on every transport.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root, type Envelope, LineClient, TcpClient, WsClient } from '../helpers.js'
import { runSd } from '../cli/run-sd.js'
import { startSd, type SdServer } from './sd-process.js'

export const gatewayApp = join(root, 'test/e2e/gateway-app')
export const gatewaySecret = 'e2e-gateway-secret-0123456789'

/** Rewrites `'../…/framework/index.js'` imports under `dir` to the repository's framework. */
async function absoluteImports (dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    const file = join(entry.parentPath, entry.name)
    const text = await readFile(file, 'utf8')
    const fixed = text.replace(/(['"])(?:\.\.\/)+framework\/index\.js\1/g, `$1${join(root, 'framework/index.js')}$1`)
    if (fixed !== text) await writeFile(file, fixed)
  }
}

/**
 * Copies the folders `parts` of `from` (an app root) to a new temp folder the test may edit;
 * returns its path and a remover.
 */
export async function copyApp (from = gatewayApp, parts = ['app', 'config']): Promise<{ dir: string, remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-gw-app-'))
  for (const p of parts) await cp(join(from, p), join(dir, p), { recursive: true })
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
  await absoluteImports(dir)
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** `sd start ...args --root app` with the link port free (SD_GATEWAY_PORT=0) and the tests' secret. */
export function startGatewayRun (app: string, args: string[], env: Record<string, string> = {}): Promise<SdServer> {
  return startSd([...args, '--root', app], { SD_GATEWAY_PORT: '0', SD_CLUSTER_SECRET: gatewaySecret, ...env })
}

/** `sd reload` of a running server; throws with its output unless it exits 0. */
export async function reload (server: SdServer): Promise<string> {
  const run = await runSd(['reload'], root, { SD_RUN_DIR: server.runDir }, 120_000)
  if (run.code !== 0) throw new Error(`sd reload exited ${run.code}: ${run.stdout}${run.stderr}`)
  return run.stdout
}

/** Worker pids of a running server, from its state.json. */
export async function workerPidsOf (server: SdServer): Promise<number[]> {
  const text = await readFile(join(server.runDir, 'state.json'), 'utf8')
  return (JSON.parse(text) as { workerPids?: number[] }).workerPids ?? []
}

/** One answer a sender saw: when its request was sent, the value or the error code. */
export interface Answer { sentAt: number, ok: boolean, value?: unknown, code?: string }

/** A client that keeps requests going, `depth` at a time, until `stop()`; every answer is kept in order of arrival. */
export interface Sender {
  readonly name: string
  readonly answers: Answer[]
  /** The server closed the connection. */
  closed: () => boolean
  /** Throws when the connection was closed or a request went unanswered (a check for `waitUntil`). */
  check: () => void
  /** Stops sending; resolves when every request sent so far has its answer (rejects on a timeout). */
  stop: () => Promise<void>
}

/** Loops of `request(i)` on one client; `request` rejects when no answer comes in time. */
function loop (name: string, depth: number, request: (i: number) => Promise<Answer>, closed: () => boolean): Sender {
  const answers: Answer[] = []
  let running = true
  let next = 0
  let failure: Error | undefined
  const lanes = Array.from({ length: depth }, async () => {
    while (running) answers.push(await request(next++))
  })
  const done = Promise.all(lanes)
  done.catch((err: Error) => { failure = err }) // also reported by stop()
  const check = (): void => {
    if (closed()) throw new Error(`${name}: the server closed the connection`)
    if (failure !== undefined) throw failure
  }
  return { name, answers, closed, check, stop: async () => { running = false; await done } }
}

const fromEnvelope = (sentAt: number, m: Envelope): Answer =>
  m.error === undefined ? { sentAt, ok: true, value: m.data } : { sentAt, ok: false, code: m.error.code }

/** Request ids of the senders (above the ids the clients' own `request()` uses). */
const SENDER_IDS = 1_000_000

/**
 * A TCP or WebSocket client sending `path` with `data(i)`, `depth` at a time, and waiting for
 * each answer up to `timeoutMs` (longer than `request()`'s 3 s: a request may wait at the gateway).
 */
export function jsonSender (name: string, client: TcpClient | WsClient, path: string, data: (i: number) => unknown, depth = 2, timeoutMs = 15_000): Sender {
  return loop(name, depth, async (i) => {
    const id = SENDER_IDS + i
    const sentAt = Date.now()
    const body = JSON.stringify({ id, path, data: data(i) })
    if (client instanceof TcpClient) client.frame(body)
    else client.ws.send(body)
    const reply = await client.next((m) => m.id === id, timeoutMs).catch((err: Error) => {
      throw new Error(`${name}: no answer to request ${i}: ${err.message.slice(0, 300)}`)
    })
    return fromEnvelope(sentAt, reply)
  }, () => client.closed)
}

/** A text-port client typing `ping <i>` lines as telnet sends them (`\r\n`), one at a time; the answer is the line ending in `ping <i>`. */
export function lineSender (name: string, client: LineClient, timeoutMs = 15_000): Sender {
  return loop(name, 1, async (i) => {
    const sentAt = Date.now()
    client.socket.write(`ping ${i}\r\n`)
    const line = await client.next((l) => l.endsWith(` ping ${i}`) || l.startsWith('ERROR '), timeoutMs).catch((err: Error) => {
      throw new Error(`${name}: no answer to line ${i}: ${err.message.slice(0, 300)}`)
    })
    return line.startsWith('ERROR ') ? { sentAt, ok: false, code: /^ERROR (\S+?):/.exec(line)?.[1] } : { sentAt, ok: true, value: line }
  }, () => client.closed)
}

export type { SdServer }
