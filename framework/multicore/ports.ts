/** Ports a server process listens on, by transport (its key in the transport registry: `tcp`, `text`, `http`, …). */
export type Ports = Partial<Record<string, number>>
