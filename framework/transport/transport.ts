/**
 * The one interface every transport implements, and what a transport may ask of the
 * application. Transports turn bytes into messages and hand them to `dispatch`; they never
 * see the router's routes or a controller.
 */
import type { IncomingMessage } from 'node:http'
import type { Logger } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { TransportName } from '../core/contract.js'
import type { ConnectionOptions } from '../connection/options.js'
import type { Connection } from '../connection/connection.js'
import type { Traffic } from '../connection/traffic.js'
import type { InboundMessage } from './packs.js'
import type { Admission } from './admission.js'
import type { PortOptions, TransportOptions } from './options.js'

/** The options every transport reads from the host (its own port's options are given to it). */
export interface TransportLimits extends Pick<ConnectionOptions, 'maxSendBufferBytes'>, Pick<TransportOptions, 'rateLimit'> {}

/** Address a transport listens on. */
export interface ListenAddress {
  host: string
  port: number
}

/** What transports need from the application. */
export interface TransportHost {
  readonly config: { readonly server: TransportLimits }
  readonly log: Logger
  /** Admission control of this process's client sockets (every transport asks it first). */
  readonly admission: Admission
  /** Where client traffic is counted (undefined: metrics off). */
  readonly traffic?: Traffic | undefined
  /** A fresh connection id. */
  newConnectionId (): string
  /** A connection is open; the host registers it and runs `onConnect`. */
  connectionOpened (conn: Connection): void
  /** A connection has closed; the host unregisters it and runs `onClose`. */
  connectionClosed (conn: Connection): void
  /** Routes and runs one message from a connection; replies through the connection. */
  dispatch (conn: Connection, msg: InboundMessage): void
  /**
   * When present, `receive` hands it each payload undecoded (after the rate limit) instead of
   * calling `dispatch`: a gateway relays client bytes to a worker. `isText`: UTF-8 already checked.
   */
  readonly dispatchRaw?: (conn: Connection, payload: Buffer, isText: boolean) => void
  /**
   * When present (client auth is on), asked about each WebSocket upgrade: undefined lets it open
   * unauthenticated; else a promise of what to do with the connection before it opens, rejected
   * with an SdError to refuse the upgrade (answered with the error's HTTP status, no socket).
   */
  readonly upgradeAuth?: ((request: IncomingMessage) => Promise<(conn: Connection) => void> | undefined) | undefined
  /** Routes one HTTP request through the shared router, runs its action and replies. */
  dispatchHttp (request: FastifyRequest, reply: FastifyReply): void
}

/** A port (or endpoint) that accepts clients. */
export interface Transport {
  readonly name: TransportName
  /** Starts listening. */
  start (): Promise<void>
  /** Where it listens, once started. */
  address (): ListenAddress | undefined
  /** Stops accepting new connections; open ones keep working. */
  stopAccepting (): Promise<void>
  /** Closes the remaining connections and releases the port. */
  close (): Promise<void>
  /** Reads its TLS certificate files again, for connections made from now on (TLS ports only). */
  reloadTls? (): void
}

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
   * port, the others (WebSocket on the HTTP port) share it. May import its module only then, so
   * loading the registry (config, the CLI) stays light.
   */
  create (host: TransportHost, options: O, root: string): Transport[] | Promise<Transport[]>
}
