/** Ports a server process listens on, by transport. */
export type Ports = Partial<Record<'tcp' | 'text' | 'http', number>>
