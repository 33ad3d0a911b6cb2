/** The part of autocannon's programmatic API the HTTP benchmark uses (the package ships no types). */
declare module 'autocannon' {
  interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    pipelining?: number
    /** Seconds. */
    duration?: number
    expectBody?: string
    timeout?: number
    /** Milliseconds between samples (and stop checks). */
    sampleInt?: number
  }
  interface Result {
    /** Seconds the run took. */
    duration: number
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    '2xx': number
  }
  function autocannon (options: Options): Promise<Result>
  export default autocannon
}
