/**
 * metrics: what a server is doing, from the engine's hooks. `Stats` counts connections and
 * calls (by procedure, code, duration); `prometheusText` writes it in Prometheus's text format;
 * `snapshot()` is the debug page's data. May import `typed/` (procedure names), `engine/` and
 * `common/`; nothing under it imports it (adapters/hono_debug.ts serves it over HTTP).
 *
 * @module
 */
export { DURATION_BUCKETS_MS, Histogram } from "./histogram.ts";
export {
  type CallSnapshot,
  CallStats,
  type ConnectionSnapshot,
  Stats,
  type StatsOptions,
  type StatsSnapshot,
} from "./stats.ts";
export {
  escapeLabel,
  type HistogramSeries,
  type Labels,
  MetricsWriter,
  PROMETHEUS_CONTENT_TYPE,
  prometheusText,
} from "./prometheus.ts";
