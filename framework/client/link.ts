/** The seam between the client and a socket: one open connection that carries frames. */

/** One open socket; frames are whole messages (text or bytes). */
export interface Link {
  send (frame: string | Uint8Array): void
  close (): void
}

/** Callbacks a link reports to (`onClose` once, after the link was open). */
export interface LinkHandlers {
  onFrame (frame: string | Uint8Array): void
  onClose (reason: Error | undefined): void
}

/** TLS settings of `tls://` and `wss://` links in Node (browsers use their own trust store). */
export interface LinkTls {
  /** CA certificate(s) (PEM) to trust besides the system's, e.g. a self-signed server's. @default the system's CAs */
  ca?: string | Uint8Array
  /** Refuse a server whose certificate is not vouched for. @default true */
  rejectUnauthorized?: boolean
}

/** What a link is opened with. */
export interface LinkOptions {
  maxFrameBytes: number
  /** TLS settings (Node). @default none */
  tls?: LinkTls
}

/** Opens a link to a url; resolves once open, rejects when it cannot. */
export type LinkFactory = (url: string, handlers: LinkHandlers, opts: LinkOptions) => Promise<Link>
