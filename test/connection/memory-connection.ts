/**
 * A connection without a socket for bus tests: it keeps what it was pushed and closes at once.
 * `attach` registers it in a table the way the application does (bus told on open and close).
 */
import { Connection } from '../../framework/connection/connection.js'
import type { Bus } from '../../framework/connection/bus.js'
import type { ConnectionTable } from '../../framework/connection/table.js'
import type { SdError } from '../../framework/core/errors.js'
import { createCodec } from '../../framework/transport/packs.js'

const json = createCodec({ pack: 'json' })

export class MemoryConnection extends Connection {
  /** Data of every push received, in order (a sync message, which has none: undefined). */
  readonly pushed: unknown[] = []
  /** Every push received as its whole JSON envelope (data, and stream, epoch, offset, ack or sync when it had meta). */
  readonly envelopes: Array<Record<string, unknown>> = []

  protected write (bytes: string | Buffer): void {
    const env = JSON.parse(String(bytes)) as Record<string, unknown>
    this.envelopes.push(env)
    this.pushed.push(env.data)
  }

  get bufferedBytes (): number { return 0 }
  pauseReading (): void {}
  resumeReading (): void {}
  protected end (_error: SdError | undefined): void { this.closed() }
  protected destroy (): void { this.closed() }
}

/** A new connection in `table` (id from the table), closed through `bus.closed` like the application does. */
export function attach (table: ConnectionTable, bus?: Bus): MemoryConnection {
  const conn: MemoryConnection = new MemoryConnection(table.nextId(), 'tcp', '127.0.0.1', json, { maxSendBufferBytes: 1 << 20 }, (c) => {
    const was = { uid: c.uid, groups: c.groups }
    table.remove(c)
    bus?.closed?.(c, was)
  })
  table.add(conn)
  bus?.opened?.(conn)
  return conn
}
