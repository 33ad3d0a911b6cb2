/**
 * `npm run bench`: the throughput table (SD against tcp-minimal, ws-raw and fastify-bare),
 * then memory per idle connection. Settings through env: BENCH_ROUNDS (3, each with fresh
 * server processes), BENCH_SEGMENTS (4 per side and round),
 * BENCH_SEGMENT_MS (1000), BENCH_WARMUP_MS (1500), BENCH_SETTLE_MS (150),
 * BENCH_MEMORY_CONNECTIONS (10000), BENCH_PIN (1; 0 disables CPU pinning), BENCH_TRANSPORTS
 * (e.g. `http,tcp`; all by default), BENCH_MEMORY (1; 0 skips the memory benchmark),
 * BENCH_RUNTIME (`compiled` by default; `tsx` runs the sources through tsx).
 */
import { availableParallelism, cpus } from 'node:os'
import { benchRuntime, pinning } from './lib/child.js'
import { formatMemory, runMemory } from './memory.js'
import { formatCpu, formatThroughput, runThroughput, throughputSettingsFromEnv } from './throughput.js'

const settings = throughputSettingsFromEnv()

const started = Date.now()
console.log(`SD benchmarks: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ` +
  (pinning ? 'servers pinned to CPU 0 and load generators to CPU 1 (taskset)' : 'no CPU pinning') +
  `, children run ${benchRuntime === 'tsx' ? 'the TypeScript sources through tsx' : 'the tsc build with plain node'}`)
console.error('Throughput (progress):')
const rows = await runThroughput(settings)
const withMemory = process.env.BENCH_MEMORY !== '0'
if (withMemory) console.error('Memory (progress):')
const memory = withMemory ? await runMemory() : undefined
console.log('')
console.log(formatThroughput(rows, settings))
console.log('')
console.log(formatCpu(rows))
console.log('')
if (memory) console.log(formatMemory(memory))
console.log(`\nTotal time ${((Date.now() - started) / 1000).toFixed(0)} s`)
