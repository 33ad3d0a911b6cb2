/**
 * Whole-server metrics of `sd start`: the primary merges the Prometheus registries of its
 * processes (each sent as prom-client's JSON over IPC) into one exposition. The merge lives in
 * multicore/ (the primary, a lower layer, runs it); this is its name in the metrics layer.
 */
export { mergedMetricsText } from '../multicore/metrics-merge.js'
