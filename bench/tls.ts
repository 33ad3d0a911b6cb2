/**
 * `npm run bench:tls`: TLS echo through SD's tcp port (length framing, `server.tcp.tls`) against
 * a hand-written node:tls length-framed echo server (bench/baselines/tls-minimal.ts), same run,
 * same pipelined load (bench/load/*), measured alternately like `npm run bench`; target ≥ 0.9.
 * Both serve the same self-signed P-256 certificate, made by openssl for the run. Settings
 * through env as `npm run bench` (BENCH_ROUNDS 3, BENCH_SEGMENTS 4, BENCH_SEGMENT_MS 1000,
 * BENCH_WARMUP_MS 1500, BENCH_SETTLE_MS 150, BENCH_PIN, BENCH_RUNTIME).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchRuntime, pinning } from './lib/child.js'
import { tlsMinimal } from './lib/servers.js'
import { formatCpu, formatThroughput, runThroughput, throughputSettingsFromEnv } from './throughput.js'

const settings = throughputSettingsFromEnv()

const dir = mkdtempSync(join(tmpdir(), 'sd-bench-tls-'))
try {
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  // the children inherit these: SD turns TLS on for its client ports, the baseline reads them
  process.env.SD_TLS_KEY = key
  process.env.SD_TLS_CERT = cert
  console.log(`SD TLS benchmark: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ` +
    (pinning ? 'servers pinned to CPU 0 and load generators to CPU 1 (taskset)' : 'no CPU pinning') +
    `, children run ${benchRuntime === 'tsx' ? 'the TypeScript sources through tsx' : 'the tsc build with plain node'}`)
  console.error('TLS throughput (progress):')
  const rows = await runThroughput(settings, [{ transport: 'tls', baseline: tlsMinimal, target: 0.9 }])
  console.log('')
  console.log(formatThroughput(rows, settings))
  console.log('')
  console.log(formatCpu(rows))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
