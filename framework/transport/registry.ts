/**
 * The transport registry: one entry per client port (its key under `config.server`, the
 * transport names its connections carry, its env port variable, its defaults, how to make it).
 * Config defaults, env overrides, the application's start, worker ports and cluster figures all
 * read this list, so a new transport is one file and one `registerTransport` call.
 */
import type { TransportName } from '../core/contract.js'
import { builtinTransports } from './builtin-transports.js'
import type { PortOptions } from './options.js'
import type { TransportEntry } from './transport.js'

export type { TransportEntry } from './transport.js'

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
