/**
 * The transport registry: one entry per client port (its key under `config.server`, the
 * transport names its connections carry, its env port variable, its defaults, how to make it).
 * Config defaults, env overrides, the application's start, worker ports and cluster figures all
 * read this list, so a new transport is one file and one `registerTransport` call.
 */
import type { TransportName } from '../core/contract.js'
import { builtinTransports } from './builtin-transports.js'
import type { PortOptions } from './options.js'
import type { Transport, TransportHost } from './transport.js'

/** One registered transport. `O` is its options (`config.server[key]`). */
export interface TransportEntry<O extends PortOptions = PortOptions> {
  /** Its key under `config.server` (`server.tcp`), also the key of its port in `sd status`. */
  readonly key: string
  /** Transport names of what it makes (the HTTP port makes `http` and `ws`); the first is the port's own. */
  readonly names: readonly TransportName[]
  /** Environment variable overriding its port, e.g. `SD_TCP_PORT`. */
  readonly envPort: string
  /** Its options' defaults (every key its options may have, so unknown keys are refused). */
  defaults (): O
  /** Option keys that may be absent from the defaults, with the type they must have (`function`, or `any`). */
  readonly optionalKeys?: Readonly<Record<string, string>>
  /**
   * Makes its transports from its options, `root` being the app root: the first listens on the
   * port, the others (WebSocket on the HTTP port) share it.
   */
  create (host: TransportHost, options: O, root: string): Transport[]
}

const entries = new Map<string, TransportEntry>()

/** Registers a transport (before config is loaded); a key already registered is refused. */
export function registerTransport<O extends PortOptions> (entry: TransportEntry<O>): void {
  if (entries.has(entry.key)) throw new Error(`transport ${entry.key} is already registered`)
  entries.set(entry.key, entry as unknown as TransportEntry)
}

/** Removes a registered transport (tests). */
export function unregisterTransport (key: string): void {
  entries.delete(key)
}

/** Every registered transport, built-in ones first. */
export function transportEntries (): readonly TransportEntry[] {
  return [...entries.values()]
}

/** Every transport name a connection may carry, over all registered transports. */
export function transportNames (): TransportName[] {
  return transportEntries().flatMap((e) => e.names)
}

for (const entry of builtinTransports) registerTransport(entry as unknown as TransportEntry)
