/**
 * The built-in transports as registry entries: the TCP RPC port, the text port and the HTTP port
 * (with WebSocket on it). transport/registry.ts registers them first. Each imports its module
 * when it is made, so reading the registry (config, the CLI) loads no server code.
 */
import { resolve } from 'node:path'
import { httpDefaults, socketPortDefaults, type HttpConfig, type SocketPortConfig } from './options.js'
import type { TransportEntry } from './transport.js'

declare module '../core/contract.js' {
  /** The built-in transports. */
  interface TransportNames { tcp: true, text: true, http: true, ws: true }
}

const tcp: TransportEntry<SocketPortConfig> = {
  key: 'tcp',
  names: ['tcp'],
  envPort: 'SD_TCP_PORT',
  defaults: () => socketPortDefaults(9093, 'length', 'json', 2 * 1024 * 1024),
  optionalKeys: { render: 'function' },
  create: async (host, options) => {
    const { TcpTransport } = await import('./tcp-transport.js')
    return [new TcpTransport(host, 'tcp', options)]
  },
}

const text: TransportEntry<SocketPortConfig> = {
  key: 'text',
  names: ['text'],
  envPort: 'SD_TEXT_PORT',
  defaults: () => socketPortDefaults(8480, 'eof', 'text', 64 * 1024),
  optionalKeys: { render: 'function' },
  create: async (host, options) => {
    const { createTextTransport } = await import('./text-transport.js')
    return [createTextTransport(host, options)]
  },
}

const http: TransportEntry<HttpConfig> = {
  key: 'http',
  names: ['http', 'ws'],
  envPort: 'SD_HTTP_PORT',
  defaults: httpDefaults,
  create: async (host, options, root) => {
    const { HttpTransport } = await import('./http-transport.js')
    const transport = new HttpTransport(host, options, options.staticDir ? resolve(root, options.staticDir) : undefined)
    return transport.ws ? [transport, transport.ws] : [transport]
  },
}

/** The built-in transports, in the order they start. */
export const builtinTransports: ReadonlyArray<TransportEntry<SocketPortConfig> | TransportEntry<HttpConfig>> = [tcp, text, http]
