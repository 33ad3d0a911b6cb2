/**
 * `node --import tsx bench/model.ts`: the cost of SD's data layer against the libraries it
 * wraps, on the real MariaDB and Redis of this machine (MYSQL_URL, default
 * mysql://root@127.0.0.1:3306/test; REDIS_URL, default redis://127.0.0.1:6379).
 *
 * Four operations, each done by SD and by a baseline doing the exact same thing:
 * - `pk read`: `this.db('items').where({ id }).first()` in a Model (the framework's `Mysql` pool)
 *   against the same query on a plain `knex({ client: 'mysql2' })` pool of the same size;
 * - `insert`: `this.db('items').insert({ text })` against the same on plain knex;
 * - `redis GET` / `redis SET`: `this.redis` (`RedisConnections.shared`) against a raw ioredis
 *   client with the same options (auto-pipelining, key prefix, retries, connect timeout).
 *
 * Both sides run in this process with the same number of operations in flight, in time-boxed
 * segments that alternate (baseline, SD, SD, baseline, …) after a warm-up of both; each round
 * starts fresh pools and connections on both sides. A new model is made for every operation,
 * as `this.model(Cls)` does in a controller. Every result is checked (row and value read back,
 * insert id, `OK`); a wrong one fails the run. The benchmark works in its own database
 * `sd_bench_model_<pid>` and key prefix, and removes both at the end (also on SIGINT/SIGTERM).
 *
 * Settings through env: BENCH_ROUNDS (3), BENCH_SEGMENTS (8 per side, operation and round),
 * BENCH_SEGMENT_MS (250), BENCH_WARMUP_MS (500 per side, operation and round, in two
 * interleaved halves), BENCH_CONCURRENCY (32 operations in flight), BENCH_ROWS (10000 rows
 * read by `pk read`), BENCH_OPS (e.g. `read,get`; all by default: read, insert, get, set),
 * BENCH_AA (1: both sides run the baseline, an A/A check of the method's noise).
 */
import { availableParallelism, cpus } from 'node:os'
import { readFileSync } from 'node:fs'
import knex, { type Knex } from 'knex'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { defaultConfig } from '../framework/server/config.js'
import { Model, type DataServices } from '../framework/data/model.js'
import { Mysql } from '../framework/data/mysql.js'
import { RedisConnections } from '../framework/data/redis.js'
import { cpuPercent, sampleCpu, sampleMachine, type CpuSample } from './lib/cpu.js'
import { drive, type Op } from './lib/drive.js'
import { int, pct, table } from './lib/table.js'

/** SD / baseline at or above which an operation passes (≤ 5% overhead). */
const TARGET = 0.95
/** Median CPU of other processes (% of one core) above which a row is flagged as measured on a busy machine. */
const NOISY_OTHER_CPU = 15
/** Keys read by `redis GET` (written before the run). */
const GET_KEYS = 1000
/** Keys overwritten in turn by `redis SET`. */
const SET_KEYS = 1000

interface Settings {
  rounds: number
  segments: number
  segmentMs: number
  warmupMs: number
  concurrency: number
  rows: number
}

const settings: Settings = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  segments: Number(process.env.BENCH_SEGMENTS ?? 8),
  segmentMs: Number(process.env.BENCH_SEGMENT_MS ?? 250),
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 500),
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32),
  rows: Number(process.env.BENCH_ROWS ?? 10_000),
}

/** A/A check: both sides run the baseline, so the ratios show the noise of the method alone. */
const aa = process.env.BENCH_AA === '1'

const baseUrl = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const dbName = `sd_bench_model_${process.pid}`
const dbUrl = (() => { const u = new URL(baseUrl); u.pathname = `/${dbName}`; return u.href })()
const keyPrefix = `sd-bench-model-${process.pid}:`

interface Row { id: number, text: string }

/** The model SD's side goes through. */
class ItemModel extends Model {
  byId (id: number): Promise<Row | undefined> {
    return this.db('items').where({ id }).first()
  }

  async add (text: string): Promise<number> {
    const [id] = await this.db('items').insert({ text })
    return id
  }

  get (key: string): Promise<string | null> {
    return this.redis.get(key)
  }

  set (key: string, value: string): Promise<unknown> {
    return this.redis.set(key, value)
  }
}

/** SD's data services and the baseline's plain clients, created fresh for a round. */
interface Sides {
  data: DataServices
  knex: Knex
  redis: Redis
}

/** One operation, done by either side; resolves false on a wrong result. `seq` numbers the operations of a segment. */

interface Operation {
  key: 'read' | 'insert' | 'get' | 'set'
  name: string
  /** Which server answers it, for the CPU table. */
  server: 'mariadbd' | 'redis-server'
  sd: (s: Sides) => Op
  base: (s: Sides) => Op
}

const rowId = (seq: number): number => ((seq * 7919) % settings.rows) + 1
const rowText = (id: number): string => `row-${id}`
const getKey = (seq: number): string => `g:${seq % GET_KEYS}`
const getValue = (key: string): string => `value-of-${key}-0123456789abcdef`
const setKey = (seq: number): string => `s:${seq % SET_KEYS}`

const operations: Operation[] = [
  {
    key: 'read',
    name: 'pk read',
    server: 'mariadbd',
    sd: (s) => async (seq) => {
      const id = rowId(seq)
      const row = await new ItemModel(s.data).byId(id)
      return row?.id === id && row.text === rowText(id)
    },
    base: (s) => async (seq) => {
      const id = rowId(seq)
      const row = await s.knex('items').where({ id }).first() as Row | undefined
      return row?.id === id && row.text === rowText(id)
    },
  },
  {
    key: 'insert',
    name: 'insert',
    server: 'mariadbd',
    sd: (s) => async (seq) => {
      const id = await new ItemModel(s.data).add(`ins-${seq}`)
      return typeof id === 'number' && id > 0
    },
    base: (s) => async (seq) => {
      const [id] = await s.knex('items').insert({ text: `ins-${seq}` })
      return typeof id === 'number' && id > 0
    },
  },
  {
    key: 'get',
    name: 'redis GET',
    server: 'redis-server',
    sd: (s) => async (seq) => {
      const key = getKey(seq)
      return await new ItemModel(s.data).get(key) === getValue(key)
    },
    base: (s) => async (seq) => {
      const key = getKey(seq)
      return await s.redis.get(key) === getValue(key)
    },
  },
  {
    key: 'set',
    name: 'redis SET',
    server: 'redis-server',
    sd: (s) => async (seq) => await new ItemModel(s.data).set(setKey(seq), `v${seq}`) === 'OK',
    base: (s) => async (seq) => await s.redis.set(setKey(seq), `v${seq}`) === 'OK',
  },
]

/** Logger of SD's side: warnings and errors to stderr. */
const log = pino({ level: 'warn' }, process.stderr)

function createSides (): Sides {
  const defaults = defaultConfig()
  const mysqlConfig = { ...defaults.mysql, url: dbUrl }
  const redisConfig = { ...defaults.redis, url: redisUrl, keyPrefix }
  const data: DataServices = { mysql: new Mysql(mysqlConfig, log), redis: new RedisConnections(redisConfig, log) }
  const plainKnex = knex({
    client: 'mysql2',
    connection: dbUrl,
    acquireConnectionTimeout: mysqlConfig.acquireTimeoutMs,
    pool: { min: mysqlConfig.poolMin, max: mysqlConfig.poolMax },
  })
  const redis = new Redis(redisUrl, {
    keyPrefix,
    enableAutoPipelining: true,
    maxRetriesPerRequest: redisConfig.maxRetriesPerRequest,
    connectTimeout: redisConfig.connectTimeoutMs,
  })
  redis.on('error', (err: Error) => console.error(`baseline redis error: ${err.message}`))
  return { data, knex: plainKnex, redis }
}

async function closeSides (s: Sides): Promise<void> {
  await Promise.all([s.data.mysql.close(), s.data.redis.close(), s.knex.destroy(), s.redis.quit()])
}

/** `pid` when it is a process on this machine named one of `names`, else undefined. */
function localPid (pid: number | undefined, names: string[]): number | undefined {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return undefined
  try {
    return names.includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()) ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Pids of the MariaDB and Redis servers this benchmark talks to (from `@@pid_file` and
 * `INFO server`), for their CPU time; empty when they are not on this machine. Asking the
 * servers, rather than looking for processes by name, leaves out other instances (tests start
 * private ones).
 */
const serverPids: Record<Operation['server'], number[]> = { mariadbd: [], 'redis-server': [] }

async function findServerPids (redisInfo: string): Promise<void> {
  try {
    const [[row]] = await admin.raw('SELECT @@pid_file AS f') as [[{ f: string }]]
    const pid = localPid(Number(readFileSync(row.f, 'utf8').trim()), ['mariadbd', 'mysqld'])
    if (pid !== undefined) serverPids.mariadbd = [pid]
  } catch { /* not local, or no pid file */ }
  const pid = localPid(Number(/process_id:(\d+)/.exec(redisInfo)?.[1]), ['redis-server'])
  if (pid !== undefined) serverPids['redis-server'] = [pid]
}

/** CPU seconds of several processes, summed (undefined when none can be read). */
function sampleCpus (pids: number[]): CpuSample | undefined {
  const samples = pids.map(sampleCpu).filter((s): s is CpuSample => s !== undefined)
  if (samples.length === 0) return undefined
  return { cpuSeconds: samples.reduce((a, s) => a + s.cpuSeconds, 0), sysSeconds: samples.reduce((a, s) => a + s.sysSeconds, 0), atNs: samples[samples.length - 1].atNs }
}

/** One measuring segment of one side. */
interface Segment {
  sd: boolean
  opsPerSecond: number
  /** CPU of this node process, % of one core. */
  nodeCpu: number
  /** CPU microseconds of this process per operation. */
  nodeUsPerOp: number
  /** CPU of the database server (mariadbd or redis-server), % of one core. */
  serverCpu: number | undefined
  /** CPU microseconds of the database server per operation. */
  serverUsPerOp: number | undefined
  /** CPU of every other process on the machine, % of one core. */
  otherCpu: number | undefined
}

async function segment (op: Op, sd: boolean, server: Operation['server']): Promise<Segment> {
  const pids = serverPids[server]
  const machineFrom = sampleMachine()
  const serverFrom = sampleCpus(pids)
  const nodeFrom = process.cpuUsage()
  const nodeAt = process.hrtime.bigint()
  const r = await drive(op, settings.concurrency, settings.segmentMs)
  const node = process.cpuUsage(nodeFrom)
  const nodeWall = Number(process.hrtime.bigint() - nodeAt) / 1e3
  const serverCpu = cpuPercent(serverFrom, sampleCpus(pids))
  const machineCpu = cpuPercent(machineFrom, sampleMachine())
  if (r.wrong > 0) throw new Error(`${sd ? 'SD' : 'baseline'}: ${r.wrong} of ${r.ops} results were wrong`)
  const nodeUs = node.user + node.system
  const nodeCpu = (100 * nodeUs) / nodeWall
  const otherCpu = machineCpu === undefined || serverCpu === undefined ? undefined : Math.max(0, machineCpu - nodeCpu - serverCpu)
  const opsPerSecond = r.ops / r.seconds
  const serverUsPerOp = serverCpu === undefined ? undefined : (serverCpu / 100) * 1e6 / opsPerSecond
  return { sd, opsPerSecond, nodeCpu, nodeUsPerOp: nodeUs / r.ops, serverCpu, serverUsPerOp, otherCpu }
}

/** Microseconds with one decimal, or `?` when unknown. */
const us = (n: number | undefined): string => (n === undefined ? '?' : n.toFixed(1))

/** Segment order 0 1 1 0 0 1 …: each side goes first equally often (1 = SD). */
function alternate (perSide: number): number[] {
  const order: number[] = []
  for (let i = 0; i < perSide; i++) order.push(...(i % 2 === 0 ? [0, 1] : [1, 0]))
  return order
}

/** Results of one operation in one round. */
interface OpRound { operation: Operation, round: number, segments: Segment[] }

async function measure (operation: Operation, sides: Sides, round: number): Promise<OpRound> {
  const ops = [operation.base(sides), aa ? operation.base(sides) : operation.sd(sides)]
  const half = settings.warmupMs / 2
  for (const i of [0, 1, 0, 1]) await drive(ops[i], settings.concurrency, half)
  const row: OpRound = { operation, round, segments: [] }
  for (const i of alternate(settings.segments)) {
    const s = await segment(ops[i], i === 1, operation.server)
    row.segments.push(s)
    console.error(`  ${operation.name.padEnd(9)}  ${(s.sd ? 'SD' : 'baseline').padEnd(8)} ${int(s.opsPerSecond).padStart(8)} ops/s` +
      `  node cpu ${pct(s.nodeCpu).padStart(4)} (${us(s.nodeUsPerOp)} µs/op)  ${operation.server} cpu ${pct(s.serverCpu).padStart(4)} (${us(s.serverUsPerOp)} µs/op)  other cpu ${pct(s.otherCpu).padStart(4)}`)
  }
  return row
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function medianOf (segments: Segment[], key: 'nodeCpu' | 'nodeUsPerOp' | 'serverCpu' | 'serverUsPerOp' | 'otherCpu'): number | undefined {
  const values = segments.map((s) => s[key]).filter((v): v is number => v !== undefined)
  return values.length > 0 ? median(values) : undefined
}

const sdOf = (segments: Segment[]): Segment[] => segments.filter((s) => s.sd)
const baseOf = (segments: Segment[]): Segment[] => segments.filter((s) => !s.sd)

/** SD median / baseline median within one round. */
function roundRatio (r: OpRound): number {
  return median(sdOf(r.segments).map((s) => s.opsPerSecond)) / median(baseOf(r.segments).map((s) => s.opsPerSecond))
}

/** SD / baseline of each back-to-back pair of segments. */
function pairRatios (r: OpRound): number[] {
  const out: number[] = []
  for (let i = 0; i + 1 < r.segments.length; i += 2) {
    const [a, b] = [r.segments[i], r.segments[i + 1]]
    out.push((a.sd ? a : b).opsPerSecond / (a.sd ? b : a).opsPerSecond)
  }
  return out
}

/**
 * Geometric mean of the back-to-back pair ratios with a 95% confidence interval (t quantile,
 * n − 1 degrees of freedom, on the logs): how precisely this run pins the ratio down.
 */
function pairMean (pairs: number[]): { mean: number, low: number, high: number } {
  const logs = pairs.map(Math.log)
  const n = logs.length
  const mean = logs.reduce((a, b) => a + b, 0) / n
  if (n < 2) return { mean: Math.exp(mean), low: NaN, high: NaN }
  const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
  const half = tQuantile975(n - 1) * sd / Math.sqrt(n)
  return { mean: Math.exp(mean), low: Math.exp(mean - half), high: Math.exp(mean + half) }
}

/** Two-sided 95% quantile of Student's t (table up to 30 degrees of freedom, then 1.96 + 2.4/df). */
function tQuantile975 (df: number): number {
  const table = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14, 2.13,
    2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04]
  return df <= table.length ? table[df - 1] : 1.96 + 2.4 / df
}

/** Rounds of the same operation, with every segment pooled. */
function grouped (rows: OpRound[]): Array<{ operation: Operation, rounds: OpRound[], segments: Segment[] }> {
  return operations
    .map((operation) => {
      const rounds = rows.filter((r) => r.operation === operation)
      return { operation, rounds, segments: rounds.flatMap((r) => r.segments) }
    })
    .filter((g) => g.rounds.length > 0)
}

function formatResults (rows: OpRound[]): string {
  const body = grouped(rows).map(({ operation, rounds, segments }) => {
    const ratios = rounds.map(roundRatio)
    const ratio = median(ratios)
    const pairs = rounds.flatMap(pairRatios)
    const pm = pairMean(pairs)
    return [
      operation.name, int(median(sdOf(segments).map((s) => s.opsPerSecond))), int(median(baseOf(segments).map((s) => s.opsPerSecond))),
      ratio.toFixed(2), ratios.map((x) => x.toFixed(2)).join(' '), `${Math.min(...pairs).toFixed(2)}-${Math.max(...pairs).toFixed(2)}`,
      `${pm.mean.toFixed(2)} (${pm.low.toFixed(2)}-${pm.high.toFixed(2)})`, `>= ${TARGET.toFixed(2)}`, ratio >= TARGET ? 'PASS' : 'BELOW',
    ]
  })
  const header = ['operation', 'SD ops/s', 'base ops/s', 'ratio', 'round ratios', 'pair range', 'pair mean (95% CI)', 'target', 'result']
  return `Models and Redis: ${settings.rounds} rounds with fresh pools and connections; per round and operation ${settings.segments} segments of ${settings.segmentMs} ms per side, ` +
    `run alternately after ${settings.warmupMs} ms of warm-up each; ${settings.concurrency} operations in flight.\n` +
    (aa
      ? 'A/A CHECK (BENCH_AA=1): the "SD" side runs the baseline too, so every ratio is noise.\n'
      : 'SD = a Model on the framework\'s Mysql / RedisConnections; base = plain knex (same pool size) / raw ioredis (same options).\n') +
    'ratio = median over rounds of (SD median / baseline median); ops/s = median of every segment; pair range = min-max of SD/baseline over back-to-back segment pairs;\n' +
    'pair mean = geometric mean of those pair ratios with its 95% confidence interval (how precisely this run measured the ratio).\n' +
    table(header, body, new Set([1, 2, 3]))
}

function formatCpu (rows: OpRound[]): string {
  const pair = (a: number | undefined, b: number | undefined): string => `${pct(a)} / ${pct(b)}`
  const groups = grouped(rows)
  const body = groups.map(({ operation, segments }) => {
    const sd = sdOf(segments)
    const base = baseOf(segments)
    return [
      operation.name, pair(medianOf(sd, 'nodeCpu'), medianOf(base, 'nodeCpu')),
      us(medianOf(sd, 'nodeUsPerOp')), us(medianOf(base, 'nodeUsPerOp')),
      `${operation.server} ${pair(medianOf(sd, 'serverCpu'), medianOf(base, 'serverCpu'))}`,
      us(medianOf(sd, 'serverUsPerOp')), us(medianOf(base, 'serverUsPerOp')),
      pair(medianOf(sd, 'otherCpu'), medianOf(base, 'otherCpu')),
    ]
  })
  const header = ['operation', 'node CPU SD/base', 'SD node µs/op', 'base node µs/op', 'server CPU SD/base', 'SD server µs/op', 'base server µs/op', 'other CPU SD/base']
  const noisy = groups.filter((g) => (medianOf(g.segments, 'otherCpu') ?? 0) > NOISY_OTHER_CPU).map((g) => g.operation.name)
  const warning = noisy.length > 0
    ? `\nWARNING: other processes took over ${NOISY_OTHER_CPU}% of a core (median) during: ${noisy.join('; ')}. Rerun on a quiet machine.`
    : ''
  return 'CPU during the segments (median % of one core) of this node process (both sides run in it) and of the database server,\n' +
    'their CPU time per operation (µs), and the CPU of every other process on the machine:\n' +
    table(header, body, new Set([2, 3, 5, 6])) + warning
}

// --- setup, run, cleanup ---

const admin = knex({ client: 'mysql2', connection: baseUrl, pool: { min: 0, max: 1 } })
const adminRedis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
let cleaned: Promise<void> | undefined

/** Drops the database and the keys under the prefix; safe to call more than once. */
function cleanup (): Promise<void> {
  cleaned ??= (async () => {
    try {
      await admin.raw(`DROP DATABASE IF EXISTS \`${dbName}\``)
    } finally {
      await admin.destroy()
    }
    let cursor = '0'
    do {
      const [next, keys] = await adminRedis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await adminRedis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    await adminRedis.quit()
  })()
  return cleaned
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: removing ${dbName} and ${keyPrefix}* before exiting`)
    cleanup().finally(() => process.exit(130))
  })
}

async function prepare (): Promise<void> {
  await admin.raw(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4`)
  const db = knex({ client: 'mysql2', connection: dbUrl })
  try {
    await db.schema.createTable('items', (t) => { t.increments('id'); t.string('text', 64).notNullable() })
    const batch = 1000
    for (let first = 1; first <= settings.rows; first += batch) {
      const ids = Array.from({ length: Math.min(batch, settings.rows - first + 1) }, (_, i) => first + i)
      await db('items').insert(ids.map((id) => ({ id, text: rowText(id) })))
    }
  } finally {
    await db.destroy()
  }
  const pipeline = adminRedis.pipeline()
  for (let i = 0; i < GET_KEYS; i++) {
    const key = getKey(i)
    pipeline.set(`${keyPrefix}${key}`, getValue(key))
  }
  await pipeline.exec()
}

const started = Date.now()
const only = process.env.BENCH_OPS?.split(',')
const selected = operations.filter((o) => !only || only.includes(o.key))
const rows: OpRound[] = []
try {
  const [[versionRow]] = await admin.raw('SELECT VERSION() AS v') as [[{ v: string }]]
  const redisInfo = await adminRedis.info('server')
  const redisVersion = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? '?'
  await findServerPids(redisInfo)
  console.log(`SD model benchmark: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ` +
    `MariaDB/MySQL ${versionRow.v}, Redis ${redisVersion}, all in one node process, no CPU pinning`)
  await prepare()
  for (let round = 0; round < settings.rounds; round++) {
    console.error(`round ${round + 1} of ${settings.rounds} (fresh pools and connections)`)
    const sides = createSides()
    try {
      for (const operation of selected) rows.push(await measure(operation, sides, round))
    } finally {
      await closeSides(sides)
    }
  }
} finally {
  await cleanup()
}
console.log('')
console.log(formatResults(rows))
console.log('')
console.log(formatCpu(rows))
console.log(`\nTotal time ${((Date.now() - started) / 1000).toFixed(0)} s`)
