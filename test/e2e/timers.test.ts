/**
 * Timers across real processes: two processes running the same app (test/e2e/timer-node.ts)
 * share one Redis and key prefix; a timer every 200 ms records each run. Every tick runs
 * exactly once across both; after one process is killed (SIGKILL: no goodbye), the survivor
 * runs the ticks, still once.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { root, waitUntil } from '../helpers.js'
import { deleteRedisKeys, rawRedis, redisUrl } from '../stores.js'

const prefix = `sd-test-timer-e2e-${process.pid}-${Date.now()}:`
const INTERVAL = 200

/** A process running test/e2e/timer-app. */
interface Node {
  name: string
  child: ChildProcess
  logs: Array<Record<string, unknown>>
  stderr: () => string
}

function startNode (name: string): Node {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, TIMER_E2E_PREFIX: prefix, SD_NODE_NAME: name }
  delete env.NODE_TEST_CONTEXT
  delete env.NODE_OPTIONS
  delete env.SD_TCP_PORT
  delete env.SD_TEXT_PORT
  delete env.SD_HTTP_PORT
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/e2e/timer-node.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: Array<Record<string, unknown>> = []
  let partial = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const l of lines) {
      try { logs.push(JSON.parse(l) as Record<string, unknown>) } catch { logs.push({ raw: l }) }
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  return { name, child, logs, stderr: () => stderr }
}

const alive = (n: Node): boolean => n.child.exitCode === null && n.child.signalCode === null

/** Runs recorded so far: `tick:fence:node` in run order, and the counter (read atomically). */
async function recorded (): Promise<{ runs: Array<{ tick: number, fence: number, node: string }>, beats: number }> {
  const r = rawRedis()
  try {
    const res = await r.multi().get(`${prefix}beats`).lrange(`${prefix}ticks`, 0, -1).exec()
    const [[, beats], [, list]] = res as [[null, string | null], [null, string[]]]
    const runs = list.map((s) => {
      const [tick, fence, node] = s.split(':')
      return { tick: Number(tick), fence: Number(fence), node }
    })
    return { runs, beats: Number(beats ?? 0) }
  } finally {
    await r.quit()
  }
}

function assertOncePerTick (runs: Array<{ tick: number, fence: number, node: string }>, beats: number): void {
  const ticks = runs.map((r) => r.tick)
  const dupes = ticks.filter((t, i) => ticks.indexOf(t) !== i)
  assert.deepEqual(dupes, [], `ticks run more than once: ${JSON.stringify(runs)}`)
  assert.equal(beats, runs.length, 'the counter saw one INCR per run')
  for (const r of runs) assert.equal(r.tick % INTERVAL, 0, 'ticks are aligned to the interval')
  const byTick = [...runs].sort((a, b) => a.tick - b.tick)
  for (let i = 1; i < byTick.length; i++) assert.ok(byTick[i].fence > byTick[i - 1].fence, 'fences grow with ticks')
}

const nodes: Node[] = []
after(async () => {
  for (const n of nodes) if (alive(n)) n.child.kill('SIGKILL')
  await deleteRedisKeys(prefix)
})

test('two processes: each tick once across both; after one is killed the survivor runs them, still once', async () => {
  const a = startNode('timer-e2e-a')
  const b = startNode('timer-e2e-b')
  nodes.push(a, b)
  const started = (n: Node): boolean => n.logs.some((l) => String(l.msg).includes('timer(s) started'))
  await waitUntil(() => (started(a) && started(b)) || !alive(a) || !alive(b), 8000, 'both processes to start their timers')
  assert.ok(alive(a) && alive(b), `a process exited: ${a.stderr()} ${b.stderr()}`)
  assert.match(String(a.logs.find((l) => String(l.msg).includes('timer(s) started'))?.msg), /each tick runs once across the nodes sharing this Redis/)

  const bothUpAt = Date.now()
  await waitUntil(async () => (await recorded()).runs.filter((r) => r.tick >= bothUpAt).length >= 5, 5000, '5 ticks with both processes up')
  const together = await recorded()
  assertOncePerTick(together.runs, together.beats)
  assert.ok(alive(a) && alive(b), 'both processes are alive')

  a.child.kill('SIGKILL')
  await once(a.child, 'exit')
  const killedAt = Date.now()
  await waitUntil(async () => (await recorded()).runs.filter((r) => r.tick > killedAt).length >= 5, 5000, '5 ticks after the kill')
  const afterKill = await recorded()
  assertOncePerTick(afterKill.runs, afterKill.beats)
  const late = afterKill.runs.filter((r) => r.tick > killedAt)
  assert.deepEqual([...new Set(late.map((r) => r.node))], ['timer-e2e-b'], 'the survivor runs the ticks')
  assert.ok(alive(b), 'the survivor is alive')

  b.child.kill('SIGTERM')
  const [code] = await once(b.child, 'exit') as [number | null]
  assert.equal(code, 0, `survivor stopped gracefully: ${b.stderr()}`)
})
