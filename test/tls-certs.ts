/**
 * Self-signed certificates for TLS tests, made by `openssl` in a temp folder: P-256, 2 days,
 * CN localhost with SANs IP:127.0.0.1 and DNS:localhost. One pair per process (`testCert()`),
 * or a fresh one (`makeCert()`, e.g. to rotate a certificate on reload).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'

/** A key and certificate on disk (paths) and the certificate's PEM (a client's `ca`). */
export interface TestCert {
  key: string
  cert: string
  /** PEM of the certificate: trust it as the CA (self-signed). */
  pem: string
  /** SHA-256 fingerprint, as node's `getPeerCertificate().fingerprint256`. */
  fingerprint: string
}

const dirs: string[] = []
process.once('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

/** Writes a new self-signed pair into `dir` (a temp folder of its own by default) as key.pem and cert.pem. */
export function makeCert (dir?: string): TestCert {
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'sd-tls-'))
    dirs.push(dir)
  }
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  const pem = readFileSync(cert, 'utf8')
  return { key, cert, pem, fingerprint: new X509Certificate(pem).fingerprint256 }
}

let shared: TestCert | undefined

/** The process's test certificate (made on first use). */
export function testCert (): TestCert {
  shared ??= makeCert()
  return shared
}
