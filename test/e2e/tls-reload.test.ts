/**
 * `sd reload` reads the TLS files again (issue 20), real processes: with workers (new processes
 * read the files at start) and in split mode (the kept gateway reads them again and calls
 * setSecureContext; its open TLS connections stay). The served certificate's fingerprint changes.
 * The split run also links its worker to the gateway over TLS (`cluster.tls`).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import { TcpClient } from '../helpers.js'
import { makeCert, testCert, type TestCert } from '../tls-certs.js'
import { startSd } from './sd-process.js'
import { copyApp, reload, startGatewayRun, type SdServer } from './gateway-procs.js'

/** The fingerprint the port serves now (the client trusts nothing: it only looks). */
async function servedFingerprint (port: number): Promise<string> {
  const s: TLSSocket = connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
  await once(s, 'secureConnect')
  const fp = s.getPeerCertificate().fingerprint256
  s.destroy()
  return fp
}

for (const mode of ['workers', 'split'] as const) {
  describe(`sd reload reads the TLS files again (${mode})`, { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-tls-reload-'))
    let first: TestCert
    let server: SdServer
    let app: { dir: string, remove: () => Promise<void> } | undefined

    before(async () => {
      first = makeCert(dir)
      const env = { SD_TLS_KEY: join(dir, 'key.pem'), SD_TLS_CERT: join(dir, 'cert.pem') }
      if (mode === 'workers') {
        server = await startSd(['--workers', '2'], env)
      } else {
        app = await copyApp()
        // worker ↔ gateway links over TLS, with a certificate of their own
        const link = testCert()
        writeFileSync(join(app.dir, 'config', 'cluster.ts'), `export default { name: 'sd-tls-reload', tls: ${JSON.stringify({ key: link.key, cert: link.cert, ca: link.cert })} }\n`)
        server = await startGatewayRun(app.dir, ['--split', '--workers', '1'], env)
        const linkPort = (server.ports as { gateway?: number }).gateway
        assert.ok(linkPort !== undefined, 'the gateway link port is in state.json')
        assert.equal(await servedFingerprint(linkPort), link.fingerprint, 'the link port serves TLS')
      }
    })
    after(async () => {
      await server?.stop()
      await app?.remove()
      rmSync(dir, { recursive: true, force: true })
    })

    test('every port serves the first certificate; after new files and sd reload, the new one', async () => {
      for (const port of [server.ports.tcp, server.ports.text, server.ports.http]) assert.equal(await servedFingerprint(port), first.fingerprint)
      const kept = await TcpClient.connectTls(server.ports.tcp, first.pem)
      try {
        const second = makeCert(dir) // overwrites key.pem and cert.pem
        assert.notEqual(second.fingerprint, first.fingerprint)
        await reload(server)
        for (const port of [server.ports.tcp, server.ports.text, server.ports.http]) assert.equal(await servedFingerprint(port), second.fingerprint)
        const fresh = await TcpClient.connectTls(server.ports.tcp, second.pem)
        fresh.close()
        if (mode === 'split') {
          // the gateway was kept: a connection made before the reload still works
          assert.equal(kept.closed, false)
          const reply = await kept.request('/sd/ping')
          assert.equal(reply.id, 1)
        }
      } finally { kept.close() }
    })
  })
}
