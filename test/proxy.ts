/**
 * A TCP proxy for tests that break the link between a client and a server on purpose: it
 * listens on 127.0.0.1 (port 0) and pipes each connection to the target. `drop()` destroys
 * every open pair (both sides see the link die, as when a network goes away), `refuse(true)`
 * closes new connections at once (a server that cannot be reached) until `refuse(false)`.
 */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net'

/** A running proxy. */
export interface TestProxy {
  /** The port clients connect to. */
  readonly port: number
  /** Pairs open now. */
  readonly open: number
  /** Pairs made since start (refused connections not counted). */
  readonly accepted: number
  /** Connections closed at once while refusing. */
  readonly refused: number
  /** Pairs destroyed by `drop()`. */
  readonly dropped: number
  /** Destroys every open pair; resolves to how many. */
  drop (): number
  /** While on, new connections are closed at once (open pairs are kept). */
  refuse (on: boolean): void
  /** New connections go to `port` (on the same host) from now on; open pairs are kept. */
  retarget (port: number): void
  /** Stops listening and destroys every pair. */
  close (): Promise<void>
}

/** Starts a proxy to `target` (a port on `host`, 127.0.0.1 by default). */
export async function startProxy (target: number, host = '127.0.0.1'): Promise<TestProxy> {
  const pairs = new Set<[Socket, Socket]>()
  const counts = { accepted: 0, refused: 0, dropped: 0 }
  let refusing = false
  let targetPort = target
  const server: Server = createServer((client) => {
    if (refusing) {
      counts.refused++
      client.destroy()
      return
    }
    counts.accepted++
    const upstream = connect(targetPort, host)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const end = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const drop = (): number => {
    const n = pairs.size
    for (const [a, b] of [...pairs]) { a.destroy(); b.destroy() }
    pairs.clear()
    counts.dropped += n
    return n
  }
  return {
    port,
    get open () { return pairs.size },
    get accepted () { return counts.accepted },
    get refused () { return counts.refused },
    get dropped () { return counts.dropped },
    drop,
    refuse (on) { refusing = on },
    retarget (port) { targetPort = port },
    async close () {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const [a, b] of pairs) { a.destroy(); b.destroy() }
      pairs.clear()
      await closed
    },
  }
}
