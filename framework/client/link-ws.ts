/** WebSocket link: the global WebSocket (browsers, Node 22+) or one the entry provides (`ws` in Node). */
import type { Link, LinkFactory, LinkHandlers, LinkOptions, LinkTls } from './link.js'

/** What the link uses of a WebSocket (the DOM's and the `ws` package's share it). */
export interface WebSocketLike {
  binaryType: string
  onopen: ((ev: unknown) => void) | null
  onerror: ((ev: unknown) => void) | null
  onclose: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  send (data: string | Uint8Array): void
  close (): void
}

/** A WebSocket constructor (`options` reach the `ws` package only). */
export type WebSocketCtor = new (url: string, protocols?: string | string[], options?: { maxPayload?: number } & LinkTls) => WebSocketLike

/** A ws link factory over the constructor `getCtor` resolves (given the link's TLS settings: Node picks `ws` for them). */
export function wsLinks (getCtor: (tls: LinkTls | undefined) => WebSocketCtor | Promise<WebSocketCtor>): LinkFactory {
  return async (url: string, handlers: LinkHandlers, opts: LinkOptions): Promise<Link> => {
    const Ctor = await getCtor(opts.tls)
    const ws = new Ctor(url, undefined, { maxPayload: opts.maxFrameBytes, ...opts.tls })
    ws.binaryType = 'arraybuffer'
    return await new Promise<Link>((resolve, reject) => {
      let open = false
      ws.onopen = () => {
        open = true
        resolve({ send: (frame) => ws.send(frame), close: () => ws.close() })
      }
      ws.onerror = () => {
        if (!open) reject(new Error(`cannot connect to ${url}`))
      }
      ws.onclose = () => {
        if (!open) reject(new Error(`cannot connect to ${url}`))
        else handlers.onClose(undefined)
      }
      ws.onmessage = (ev) => {
        const d = ev.data
        if (typeof d === 'string') handlers.onFrame(d)
        else if (d instanceof ArrayBuffer) handlers.onFrame(new Uint8Array(d))
        else if (ArrayBuffer.isView(d)) handlers.onFrame(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
      }
    })
  }
}

/** The global WebSocket, when there is one. */
export function globalWebSocket (): WebSocketCtor | undefined {
  return (globalThis as { WebSocket?: WebSocketCtor }).WebSocket
}
