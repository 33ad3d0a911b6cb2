/**
 * The `sd_dispatch_` metrics of a dispatch server (`sd start --dispatch`): what its Dispatcher
 * already counts (links, relayed frames, misses, refusals, link bytes), read at a scrape.
 * Listed in docs/metrics.md under "Dispatch servers" (a test holds the two equal).
 */
import { Registry } from 'prom-client'
import { defaultRegistry, metric } from './process-metrics.js'

/** What the metrics read of a dispatch server at a scrape. */
export interface DispatchMetricsSource {
  /** Servers linked now, with the round trip of each link's last ping. */
  links: () => Array<{ name: string, rttMs: number | undefined }>
  counters: { readonly relayed: number, readonly missed: number, readonly refused: number }
  /** Bytes read from and written to server links since start. */
  bytes: () => { in: number, out: number }
}

/** A dispatch server's registry: its `sd_dispatch_` metrics and prom-client's defaults. */
export function dispatchRegistry (src: DispatchMetricsSource): Registry {
  const r = new Registry()
  metric(r, 'sd_dispatch_links', 'Servers linked to this dispatch server now', 'gauge', () => [{ value: src.links().length, labels: {} }])
  metric(r, 'sd_dispatch_link_rtt_seconds', 'Round trip of a server link\'s last ping', 'gauge', () =>
    src.links().flatMap((l) => l.rttMs === undefined ? [] : [{ value: l.rttMs / 1000, labels: { peer: l.name } }]), 'max')
  metric(r, 'sd_dispatch_relayed_total', 'DATA frames relayed between servers', 'counter', () => [{ value: src.counters.relayed, labels: {} }])
  metric(r, 'sd_dispatch_missed_total', 'Relay targets not written to (not linked, or the write failed)', 'counter', () => [{ value: src.counters.missed, labels: {} }])
  metric(r, 'sd_dispatch_refused_total', 'Connections refused (handshake failed, too many pending, not listening)', 'counter', () => [{ value: src.counters.refused, labels: {} }])
  metric(r, 'sd_dispatch_bytes_in_total', 'Bytes read from server links', 'counter', () => [{ value: src.bytes().in, labels: {} }])
  metric(r, 'sd_dispatch_bytes_out_total', 'Bytes written to server links', 'counter', () => [{ value: src.bytes().out, labels: {} }])
  return Registry.merge([r, defaultRegistry()])
}
