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

/** How a link is opened. */
export interface LinkOptions {
  /** Largest frame accepted from the server. */
  maxFrameBytes: number
  /** The pack is text (json): a link that reads bytes may hand frames over as strings. @default false */
  text?: boolean
}

/** Opens a link to a url; resolves once open, rejects when it cannot. */
export type LinkFactory = (url: string, handlers: LinkHandlers, opts: LinkOptions) => Promise<Link>
