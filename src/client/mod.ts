/**
 * client: a client that survives. `Channel` owns connections to one endpoint or many:
 * reconnect with backoff, a state to watch, goaway failover, load balancing, retries with a
 * budget, circuit breakers, broadcast. It sits above the engine and reaches it only through
 * `Connection`; how a connection is made (TCP, TLS, WebSocket, per runtime) is the `dial`
 * an adapter gives it. Its endpoints may come from a `Registry` (`{ registry, service }`).
 * May import `engine/`, `cluster/` (a registry's types), `wire/` and `common/`.
 *
 * @module
 */
export { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.ts";
export { type BroadcastResult, Channel } from "./channel.ts";
export { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from "./circuit_breaker.ts";
export { type Endpoint, parseEndpoint, type Scheme } from "./endpoint.ts";
export { fnv1a, HashRing } from "./hash_ring.ts";
export type { ChannelCallOptions, ChannelOptions, Dial, DialOptions, EndpointSource } from "./options.ts";
export { endpointsOf, type RegistrySource } from "./discovery.ts";
export { BALANCE_POLICIES, type BalancePolicy } from "./picker.ts";
export type { RetryPolicy } from "./retry.ts";
export { RetryBudget, type RetryBudgetOptions } from "./retry_budget.ts";
export type { ChannelState, ChannelStatus, EndpointState } from "./status.ts";
