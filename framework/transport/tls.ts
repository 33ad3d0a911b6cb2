/**
 * TLS of a port: its options (`tls: { key, cert, ca? }`, file paths), their checks, and a
 * secure context read from the files at start and read again on `sd reload` (a kept gateway:
 * `reloadTls`). Used by the client ports (tcp, text, http+ws) and the links (cluster, gateway).
 */
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls'
import type { Socket } from 'node:net'
import { SdError } from '../core/errors.js'

/** TLS of a port: PEM files, relative to the app root or absolute. */
export interface TlsConfig {
  /** Private key (PEM). */
  key: string
  /** Certificate chain (PEM). */
  cert: string
  /** CA certificates (PEM) trusted for peers that show one (clients, links). @default none */
  ca?: string
  /** A socket whose TLS handshake is not done after this long is closed (it holds an admission slot meanwhile). @default 10000 */
  handshakeTimeoutMs?: number
}

/** TLS of the cluster's links (dispatch links, gateway links). */
export interface LinkTlsConfig extends TlsConfig {
  /** Refuse a peer whose certificate the `ca` (or the system's CAs) does not vouch for. @default true */
  rejectUnauthorized?: boolean
}

/** A TLS handshake not done after this long closes the socket (it holds an admission slot meanwhile). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000

function invalid (key: string, why: string): SdError {
  return new SdError('SD_ERR_CONFIG_INVALID', `${key} ${why}`)
}

/** Checks `value` as the TLS options at `key`; undefined when absent. */
export function checkTlsConfig (key: string, value: unknown, link = false): TlsConfig | LinkTlsConfig | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(key, 'must be an object { key, cert, ca? }')
  const allowed = link ? ['key', 'cert', 'ca', 'handshakeTimeoutMs', 'rejectUnauthorized'] : ['key', 'cert', 'ca', 'handshakeTimeoutMs']
  for (const [k, v] of Object.entries(value)) {
    if (!allowed.includes(k)) throw invalid(`${key}.${k}`, 'is not a known option')
    if (k === 'handshakeTimeoutMs') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalid(`${key}.${k}`, 'must be a positive integer (ms)')
    } else if (k === 'rejectUnauthorized') {
      if (typeof v !== 'boolean') throw invalid(`${key}.${k}`, 'must be a boolean')
    } else if (v !== undefined && (typeof v !== 'string' || v === '')) {
      throw invalid(`${key}.${k}`, 'must be a file path')
    }
  }
  const o = value as Partial<LinkTlsConfig>
  if (o.key === undefined) throw invalid(`${key}.key`, 'is required (a PEM file path)')
  if (o.cert === undefined) throw invalid(`${key}.cert`, 'is required (a PEM file path)')
  return o as LinkTlsConfig
}

/** The PEM contents of `config`'s files (read now), paths resolved against `root`. */
export function readTlsFiles (key: string, config: TlsConfig, root: string): { key: Buffer, cert: Buffer, ca?: Buffer } {
  const read = (field: 'key' | 'cert' | 'ca', path: string): Buffer => {
    try {
      return readFileSync(isAbsolute(path) ? path : resolve(root, path))
    } catch (err) {
      throw invalid(`${key}.${field}`, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: ${path})`)
    }
  }
  const files = { key: config.key === '' ? Buffer.alloc(0) : read('key', config.key), cert: config.cert === '' ? Buffer.alloc(0) : read('cert', config.cert) }
  return config.ca === undefined ? files : { ...files, ca: read('ca', config.ca) }
}

/** A port's secure context, from its files; `reload()` reads them again (a bad file keeps the old one). */
export class TlsFiles {
  readonly #key: string
  readonly #config: TlsConfig
  readonly #root: string
  #context: SecureContext
  /** The PEM the context was made from (read once per load: what https gets is what was checked). */
  #pem: { key: Buffer, cert: Buffer, ca?: Buffer }

  /** `key`: the options' path, for messages (`server.tcp.tls`). Throws SD_ERR_CONFIG_INVALID when a file cannot be read or used. */
  constructor (key: string, config: TlsConfig, root: string) {
    this.#key = key
    this.#config = config
    this.#root = root
    this.#pem = readTlsFiles(key, config, root)
    this.#context = this.#make(this.#pem)
  }

  /** The context new connections get. */
  get context (): SecureContext {
    return this.#context
  }

  /** Time a handshake may take. */
  get handshakeTimeoutMs (): number {
    return this.#config.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS
  }

  /** The files' PEM contents as last loaded (for servers that take options, e.g. https). */
  contents (): { key: Buffer, cert: Buffer, ca?: Buffer } {
    return this.#pem
  }

  /** Reads the files again; connections made from now on get the new certificate. Throws (keeping the old one) when they are bad. */
  reload (): void {
    const pem = readTlsFiles(this.#key, this.#config, this.#root)
    this.#context = this.#make(pem)
    this.#pem = pem
  }

  #make (pem: { key: Buffer, cert: Buffer, ca?: Buffer }): SecureContext {
    try {
      return createSecureContext(pem)
    } catch (err) {
      throw invalid(this.#key, `files are not a usable key and certificate (${(err as Error).message})`)
    }
  }
}

/**
 * Wraps an accepted plain socket in a server-side TLS socket with `context`; `onSecure` runs
 * once the handshake is done. A handshake not done within `timeoutMs` (or failed: a plain
 * client, a bad hello) destroys the socket, so it never holds its slot for long.
 */
export function acceptTls (socket: Socket, context: SecureContext, onSecure: (tls: TLSSocket) => void, timeoutMs = TLS_HANDSHAKE_TIMEOUT_MS): TLSSocket {
  const tls = new TLSSocket(socket, { isServer: true, secureContext: context })
  const timer = setTimeout(() => tls.destroy(new Error('tls handshake timeout')), timeoutMs)
  tls.once('secure', () => {
    clearTimeout(timer)
    onSecure(tls)
  })
  tls.once('close', () => clearTimeout(timer))
  return tls
}

/** What a connecting link passes to `tls.connect`: the CA to check the peer with (read now), and whether to insist. */
export interface LinkTlsClient {
  ca?: Buffer
  rejectUnauthorized: boolean
}

/** The connecting side's TLS options of `cluster.tls` (paths absolute, as loadConfig leaves them). */
export function linkTlsClient (config: LinkTlsConfig): LinkTlsClient {
  const rejectUnauthorized = config.rejectUnauthorized ?? true
  if (config.ca === undefined) return { rejectUnauthorized }
  return { ca: readTlsFiles('cluster.tls', { key: '', cert: '', ca: config.ca }, '/').ca, rejectUnauthorized }
}
