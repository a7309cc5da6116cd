/**
 * `@weft/rpc/metrics`: a stats collector on the engine's hooks, Prometheus text, and a debug
 * page, both served on a Hono app.
 *
 *   import { mountDebugPage, mountMetrics, Stats } from "@weft/rpc/metrics";
 *
 * @module
 */
export * from "../src/metrics/mod.ts";
export { type Authorize, authorized, type DebugPageOptions, type MetricsRouteOptions, mountDebugPage, mountMetrics } from "./hono_debug.ts";
