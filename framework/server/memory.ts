/** This process's memory figures for `stats()`. */
import { getHeapStatistics } from 'node:v8'

let lastRss = 0
/**
 * rss and heap in use, without throwing: `process.memoryUsage()` opens /proc/self/stat and
 * throws EMFILE when the process is out of descriptors (a connection flood); then the heap
 * comes from V8 (no file) and rss is the last value read.
 */
export function memory (): { rss: number, heapUsed: number } {
  try {
    const mem = process.memoryUsage()
    lastRss = mem.rss
    return mem
  } catch {
    return { rss: lastRss, heapUsed: getHeapStatistics().used_heap_size }
  }
}
