/**
 * Whole-server metrics of `sd start`: the primary merges the Prometheus registries of its
 * processes (each sent as prom-client's JSON over IPC) into one exposition.
 * CONTRACT STUB (issue 21): the metrics branch fills it in.
 */

/** Prometheus text of the merged registries of several processes (`getMetricsAsJSON()` of each). */
export async function mergedMetricsText (parts: readonly unknown[][]): Promise<string> {
  void parts
  return ''
}
