/**
 * weft across processes on Redis (`@weft/rpc/redis`): a `Broker` on Redis Streams and a
 * `Registry` on sorted sets, hashes and pub/sub, both on node-redis (the `redis` package, 5 or
 * 6, which Redis recommends and which runs on Node, Bun and Deno), both Valkey compatible.
 * `redis` is an optional peer dependency: install it to use this entry point.
 *
 *   const broker = await redisBroker({ url: process.env.REDIS_URL });
 *   const registry = await redisRegistry({ url: process.env.REDIS_URL });
 *
 * @module
 */
export { RedisBroker, redisBroker, type RedisBrokerOptions } from "./redis/broker.ts";
export { RedisRegistry, redisRegistry, type RedisRegistryOptions } from "./redis/registry.ts";
export type { RedisClientTemplate, RedisConnection, RedisConnectionOptions } from "./redis/connection.ts";
