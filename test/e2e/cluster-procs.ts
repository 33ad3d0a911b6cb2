/** Real cluster processes for the e2e tests: dispatch servers and servers of the test app. */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root, TcpClient, waitUntil } from '../helpers.js'
import { childEnv, startSd, type SdServer } from './sd-process.js'

export const clusterApp = join(root, 'test/e2e/cluster-app')
export const secret = 'e2e-secret-0123456789'

/** A running `sd start --dispatch`. */
export interface DispatchProc {
  child: ChildProcess
  port: number
  output: () => string
  stop: () => Promise<void>
}

/** Starts a dispatch server of the app at `appRoot` on a free port; resolves once it listens and wrote its state. */
export async function startDispatcher (name: string, env: Record<string, string>, appRoot = clusterApp): Promise<DispatchProc> {
  const runDir = await mkdtemp(join(tmpdir(), 'sd-run-d-'))
  const child = spawn(process.execPath, ['bin/sd.js', 'start', '--dispatch', '--root', appRoot], {
    cwd: root,
    env: childEnv({ SD_RUN_DIR: runDir, SD_NODE_NAME: name, SD_DISPATCH_PORT: '0', SD_CLUSTER_SECRET: secret, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { out += c })
  const exited = once(child, 'exit')
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    await rm(runDir, { recursive: true, force: true })
  }
  const state = await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`sd start --dispatch exited early: ${out}`)
    const text = await readFile(join(runDir, 'dispatch', 'state.json'), 'utf8').catch(() => undefined)
    return text ? JSON.parse(text) as { ports: { dispatch: number } } : undefined
  }, 30_000, 'the dispatch server to listen')
  return { child, port: state.ports.dispatch, output: () => out, stop }
}

/** Starts a server of the test app with `--cluster`. */
export function startClusterServer (name: string, env: Record<string, string>): Promise<SdServer> {
  return startSd(['--cluster', '--root', clusterApp], { SD_NODE_NAME: name, SD_CLUSTER_SECRET: secret, ...env })
}

/** Worker pids of a running `sd start` (from its state.json). */
export async function workerPids (server: SdServer): Promise<number[]> {
  const text = await readFile(join(server.runDir, 'state.json'), 'utf8')
  return (JSON.parse(text) as { workerPids: number[] }).workerPids
}

/** A TCP client of the test app; `call` answers the reply's data or throws its error code. */
export class ApiClient {
  constructor (readonly tcp: TcpClient) {}

  static async connect (port: number): Promise<ApiClient> {
    return new ApiClient(await TcpClient.connect(port))
  }

  async call<T = unknown> (path: string, data?: unknown): Promise<T> {
    const reply = await this.tcp.request(`/api/${path}`, data)
    if (reply.error) throw Object.assign(new Error(`${reply.error.code}: ${reply.error.message}`), { code: reply.error.code })
    return reply.data as T
  }

  /** Next push (`{data}` without id) matching `match`. */
  async push (match: (data: unknown) => boolean = () => true, timeoutMs = 3000): Promise<unknown> {
    return (await this.tcp.next((m) => m.id === undefined && m.error === undefined && match(m.data), timeoutMs)).data
  }

  close (): void {
    this.tcp.close()
  }
}
