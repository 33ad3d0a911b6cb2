/** `config/metrics.ts`: Prometheus metrics of the process (docs/metrics.md). */
export interface MetricsConfig {
  /**
   * Count traffic, actions and errors and serve them as Prometheus text. Off: nothing is
   * counted (the hot paths skip it) and a scrape answers `SD_ERR_METRICS_DISABLED`.
   * @default true
   */
  enabled: boolean
}

/** Defaults of the `metrics` section. */
export function metricsDefaults (): MetricsConfig {
  return { enabled: true }
}
