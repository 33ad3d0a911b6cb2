/**
 * The built-in transports as registry entries: the TCP RPC port, the text port and the HTTP port
 * (with WebSocket on it). transport/registry.ts registers them first. Each imports its module
 * when it is made, so reading the registry (config, the CLI) loads no server code.
 */
import { resolve } from 'node:path'
import { httpDefaults, socketPortDefaults, type HttpConfig, type SocketPortConfig } from './options.js'
import type { TransportEntry } from './transport.js'
import { checkTlsConfig, TlsFiles } from './tls.js'

/** The port's certificate when `options.tls` is set (files read now: a bad one fails the start naming the key). */
function portTls (key: string, options: { tls?: unknown }, root: string): TlsFiles | undefined {
  const tls = checkTlsConfig(`server.${key}.tls`, options.tls)
  return tls === undefined ? undefined : new TlsFiles(`server.${key}.tls`, tls, root)
}

declare module '../core/contract.js' {
  /** The built-in transports. */
  interface TransportNames { tcp: true, text: true, http: true, ws: true }
}

const tcp: TransportEntry<SocketPortConfig> = {
  key: 'tcp',
  names: ['tcp'],
  envPort: 'SD_TCP_PORT',
  defaults: () => socketPortDefaults(9093, 'length', 'json', 2 * 1024 * 1024),
  optionalKeys: { render: 'function', tls: 'object' },
  create: async (host, options, root) => {
    const { TcpTransport } = await import('./tcp-transport.js')
    return [new TcpTransport(host, 'tcp', options, portTls('tcp', options, root))]
  },
}

const text: TransportEntry<SocketPortConfig> = {
  key: 'text',
  names: ['text'],
  envPort: 'SD_TEXT_PORT',
  defaults: () => socketPortDefaults(8480, 'eof', 'text', 64 * 1024),
  optionalKeys: { render: 'function', tls: 'object' },
  create: async (host, options, root) => {
    const { createTextTransport } = await import('./text-transport.js')
    return [createTextTransport(host, options, portTls('text', options, root))]
  },
}

const http: TransportEntry<HttpConfig> = {
  key: 'http',
  names: ['http', 'ws'],
  envPort: 'SD_HTTP_PORT',
  defaults: httpDefaults,
  optionalKeys: { tls: 'object' },
  create: async (host, options, root) => {
    const { HttpTransport } = await import('./http-transport.js')
    const transport = new HttpTransport(host, options, options.staticDir ? resolve(root, options.staticDir) : undefined, portTls('http', options, root))
    return transport.ws ? [transport, transport.ws] : [transport]
  },
}

/** The built-in transports, in the order they start. */
export const builtinTransports: ReadonlyArray<TransportEntry<SocketPortConfig> | TransportEntry<HttpConfig>> = [tcp, text, http]
