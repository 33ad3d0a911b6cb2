/** The SdClient: one logical connection over reconnecting links. */
import type { CallOptions, ClientOptions, SdClientEvents, SdClientStatus } from './types.js'
import type { LinkFactory } from './link.js'

export class SdClient {
  #status: SdClientStatus = 'connecting'
  constructor (readonly url: string, options: ClientOptions, links: LinkFactory) {
    void options; void links
  }

  /** Current status. */
  get status (): SdClientStatus { return this.#status }

  /** Calls `path` with `data`; resolves to the reply's data. */
  call (path: string, data?: unknown, options?: CallOptions): Promise<unknown> {
    void path; void data; void options
    return Promise.reject(new Error('not implemented'))
  }

  /** Adds a listener. */
  on<E extends keyof SdClientEvents> (event: E, listener: SdClientEvents[E]): this {
    void event; void listener
    return this
  }

  /** Removes a listener. */
  off<E extends keyof SdClientEvents> (event: E, listener: SdClientEvents[E]): this {
    void event; void listener
    return this
  }

  /** Closes for good: pending and queued calls fail with SD_ERR_CLIENT_CLOSED. */
  close (): void {
    this.#status = 'closed'
  }
}
