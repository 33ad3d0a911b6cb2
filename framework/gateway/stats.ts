/** What `stats()` adds in split mode (declaration merging of core's `NodeStats`). */
import type { GatewayWorkerStatus } from './gateway.js'
import type { GatewayLinkStatus } from './worker.js'

declare module '../core/contract.js' {
  interface NodeStats {
    /** On a gateway: its link port, its workers and the requests waiting for one. */
    gateway?: { port: number | undefined, workers: GatewayWorkerStatus[], waiting: number }
    /** On a business worker: its links to gateways. */
    gatewayLinks?: GatewayLinkStatus[]
  }
}
