/**
 * `npm run bench:recovery`: push throughput with recovery on (the Redis Streams history,
 * REDIS_URL) against off, in the same run, on the same server (`sd start --workers 1`, the demo
 * app with REDIS_URL): the only difference is the send's `recover` option
 * (`/bench/group` and `/bench/push` pass it on). Receivers: BENCH_RECEIVERS (8) SDK-less framed
 * TCP clients, each bound to its own uid and joined to one room. Senders: 4 TCP clients with 16
 * requests in flight each. Measured: pushes/s counted at the receivers, over BENCH_SEGMENT_MS.
 *  1. `sendToGroup(room, data, {recover})`: every send reaches every receiver; target ON/OFF ≥ 0.8.
 *  2. `sendToUid(uid, data, {recover})`: sends spread over the receivers' uids (one stream each),
 *     one delivery per send and one history append per delivery (reported, no target).
 * Per round a fresh server; per scenario ON, OFF, OFF, ON (the order flips every round); medians
 * over the rounds. The history keys the run wrote are deleted at the end.
 * Env: BENCH_ROUNDS (3), BENCH_SEGMENT_MS (2000), BENCH_RECEIVERS (8), REDIS_URL (redis://127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Redis } from 'ioredis'
import { Client } from './lib/framed-client.js'
import { int, pct, table } from './lib/table.js'
import { startSdRun } from './lib/sd-run.js'
import { cpuPercent, sampleCpu, sampleMachine } from './lib/cpu.js'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const segmentMs = Number(process.env.BENCH_SEGMENT_MS ?? 2000)
const receiverCount = Number(process.env.BENCH_RECEIVERS ?? 8)
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const SENDERS = 4
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 16)
const SETTLE_MS = 200
const GROUP_TARGET = 0.8

const run = `bench-rec-${randomBytes(4).toString('hex')}`
const room = `${run}-room`
const uidOf = (i: number): string => `${run}-u${i}`

type Scenario = 'group' | 'uid'
type Mode = 'on' | 'off'
interface Sample { rate: number, server: number | undefined, redis: number | undefined, client: number, other: number | undefined }

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Pushes/s at the receivers while the senders keep INFLIGHT requests each in flight. */
async function pushRate (senders: Client[], receivers: Client[], scenario: Scenario, recover: boolean, durationMs: number, pid: number): Promise<Sample> {
  let running = true
  let next = 0
  const payload = { msg: 'hello', n: 42 }
  const one = async (sender: Client): Promise<void> => {
    while (running) {
      if (scenario === 'group') await sender.request('/bench/group', { group: room, data: payload, recover })
      else await sender.request('/bench/push', { to: uidOf(next++ % receivers.length), data: payload, recover })
    }
  }
  const loops = senders.flatMap((s) => Array.from({ length: INFLIGHT }, () => one(s)))
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  const count = (): number => receivers.reduce((n, r) => n + r.pushes, 0)
  const before = count()
  const cpu = sampleCpu(pid)
  const redisCpu = sampleCpu(redisPid)
  const own = process.cpuUsage()
  const machine = sampleMachine()
  const t0 = process.hrtime.bigint()
  await new Promise((resolve) => setTimeout(resolve, durationMs))
  const delivered = count() - before
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const server = cpuPercent(cpu, sampleCpu(pid))
  const redis = cpuPercent(redisCpu, sampleCpu(redisPid))
  const all = cpuPercent(machine, sampleMachine())
  const used = process.cpuUsage(own)
  const client = (100 * (used.user + used.system)) / (seconds * 1e6)
  running = false
  await Promise.all(loops)
  if (receivers.some((r) => r.errors > 0 || r.socket.destroyed)) throw new Error('a receiver got an error or was closed')
  const other = all === undefined ? undefined : all - (server ?? 0) - (redis ?? 0) - client
  return { rate: delivered / seconds, server, redis, client, other }
}

/** The pid of the Redis server (its CPU is shown next to the server's), or 0 when it cannot be read. */
async function redisServerPid (): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0)
  } finally {
    redis.disconnect()
  }
}

/** Deletes the history keys (entries and meta) of this run's streams. */
async function deleteHistory (): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let deleted = 0
    let cursor = '0'
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `*:h*:*${run}*`, 'COUNT', 1000)
      cursor = nextCursor
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
    return deleted
  } finally {
    redis.disconnect()
  }
}

console.log(`Recovery benchmark: node ${process.version}, ${availableParallelism()} CPUs; the load generator runs in this process; ` +
  `sd start --workers 1 with REDIS_URL=${redisUrl} (recovery store: Redis Streams); ${receiverCount} receivers, ` +
  `${SENDERS} senders × ${INFLIGHT} in flight; ${rounds} rounds of ${segmentMs} ms per measurement`)
const redisPid = await redisServerPid()
const samples: Record<Scenario, Record<Mode, Sample[]>> = { group: { on: [], off: [] }, uid: { on: [], off: [] } }
try {
  for (let round = 0; round < rounds; round++) {
    const server = await startSdRun(['--workers', '1'], { REDIS_URL: redisUrl })
    const clients: Client[] = []
    try {
      for (let i = 0; i < SENDERS + receiverCount; i++) clients.push(await Client.connect(server.ports.tcp))
      const senders = clients.slice(0, SENDERS)
      const receivers = clients.slice(SENDERS)
      await Promise.all(receivers.map(async (r, i) => {
        await r.request('/bench/bind', { uid: uidOf(i) })
        await r.request('/bench/join', { group: room })
        r.countPushesOnly()
      }))
      const { pid } = await senders[0].request('/bench/where') as { pid: number }
      for (const scenario of ['group', 'uid'] as const) {
        // warm-up of both paths (the Lua script is loaded, the JIT has seen both)
        await pushRate(senders, receivers, scenario, true, 300, pid)
        await pushRate(senders, receivers, scenario, false, 300, pid)
        const order: Mode[] = round % 2 === 0 ? ['on', 'off'] : ['off', 'on']
        const s = samples[scenario]
        for (const mode of [...order, ...[...order].reverse()]) s[mode].push(await pushRate(senders, receivers, scenario, mode === 'on', segmentMs, pid))
        console.error(`round ${round + 1} ${scenario}: on ${s.on.slice(-2).map((x) => int(x.rate)).join(', ')}; ` +
          `off ${s.off.slice(-2).map((x) => int(x.rate)).join(', ')} pushes/s`)
      }
    } catch (err) {
      console.error(server.tail())
      throw err
    } finally {
      for (const c of clients) c.close()
      await server.stop()
    }
  }
} finally {
  console.error(`deleted ${await deleteHistory()} history keys of ${run}`)
}
const rows = (['group', 'uid'] as const).map((scenario) => {
  const s = samples[scenario]
  const on = median(s.on.map((x) => x.rate))
  const off = median(s.off.map((x) => x.rate))
  const ratio = on / off
  const label = scenario === 'group' ? `sendToGroup, ${receiverCount} members` : `sendToUid, ${receiverCount} uids`
  return [label, int(off), int(on), ratio.toFixed(2), scenario === 'group' ? (ratio >= GROUP_TARGET ? 'PASS' : 'FAIL') : '-',
    `${pct(median(s.off.map((x) => x.server ?? NaN)))} / ${pct(median(s.on.map((x) => x.server ?? NaN)))}`,
    `${pct(median(s.off.map((x) => x.redis ?? NaN)))} / ${pct(median(s.on.map((x) => x.redis ?? NaN)))}`,
    `${pct(median(s.off.map((x) => x.client)))} / ${pct(median(s.on.map((x) => x.client)))}`,
    `${pct(median(s.off.map((x) => x.other ?? NaN)))} / ${pct(median(s.on.map((x) => x.other ?? NaN)))}`]
})
console.log(table(['pushes/s at the receivers, median', 'recover off', 'recover on (Redis)', 'on/off', `≥ ${GROUP_TARGET}`, 'CPU server off / on', 'CPU Redis off / on', 'CPU load gen off / on', 'CPU other off / on'], rows, new Set([1, 2, 3])))
