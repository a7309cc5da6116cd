/**
 * cluster: what lets several processes act as one service. A `Broker` carries events between
 * them (publish by topic, subscribe with catch-up from a last-seen id); a `Registry` tells
 * which instances of a service are alive and where (registration under a lease, list, watch).
 * Each has an in-memory implementation, the default for one process; `@weft/rpc/redis`
 * (adapters/redis/) implements both on Redis. May import `common/` only; the layers that use
 * a broker or a registry import it, never the reverse.
 *
 * @module
 */
export {
  type Broker,
  type BrokerDelivery,
  type BrokerEvent,
  type BrokerGap,
  DEFAULT_RETENTION,
  type Retention,
  type SubscribeOptions,
  type BrokerSubscription,
} from "./broker.ts";
export {
  type Instance,
  type InstanceMetadata,
  type RegisterOptions,
  type Registration,
  type Registry,
  type WatchOptions,
} from "./registry.ts";
export { MemoryBroker, type MemoryBrokerOptions } from "./memory_broker.ts";
export { MemoryRegistry, type MemoryRegistryOptions } from "./memory_registry.ts";
