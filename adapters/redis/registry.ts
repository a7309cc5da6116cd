/**
 * A `Registry` on Redis. Per service: a sorted set of instance ids by the time their lease
 * runs out (`<prefix>registry:<service>:leases`, in Redis's own clock), a hash of their
 * descriptions (`...:instances`), and a pub/sub channel (`<prefix>registry:<service>`) on
 * which every join and leave is announced. Scripts (scripts.ts) make each step atomic.
 *
 * How a watcher notices an instance that died: its lease simply runs out, and no event says
 * so by itself. Keyspace notifications would need `notify-keyspace-events` set on the server
 * (managed Redis often forbids CONFIG SET), fire only when Redis's expiry cycle gets to the key
 * rather than at the deadline, and are lost while a watcher is disconnected. Instead every
 * listing tells how long until the soonest lease runs out, and a watcher lists again right
 * then: an instance that stopped renewing leaves every watch within its lease (plus a round
 * trip), and the listing that notices it also removes it and announces the leave. A watcher
 * also lists again on every announcement, after each reconnect (announcements are not kept
 * while it was away), and at least every `resyncMs`.
 *
 * A service's two keys have no expiry of their own: a listing empties them of lapsed
 * instances (and Redis drops an empty key), so what stays of a service nobody lists again is
 * its last instances' few bytes.
 */
import { Bell } from "../../src/cluster/bell.ts";
import { Lease, leaseProblem } from "../../src/cluster/lease.ts";
import { sameInstances, sortedInstances } from "../../src/cluster/instances.ts";
import type { Instance, RegisterOptions, Registration, Registry, WatchOptions } from "../../src/cluster/registry.ts";
import { RpcError } from "../../src/common/errors.ts";
import {
  connectPair,
  dropConnection,
  type RedisConnection,
  type RedisConnectionOptions,
  unavailable,
} from "./connection.ts";
import { DEREGISTER, LIST, REGISTER } from "./scripts.ts";

/** Options of `redisRegistry`. */
export interface RedisRegistryOptions extends RedisConnectionOptions {
  /** The longest a watch goes without listing again, in ms (default 5000). */
  readonly resyncMs?: number;
}

interface Keys {
  readonly keys: string[];
  readonly channel: string;
}

/** A `Registry` on Redis; `redisRegistry()` makes one. */
export class RedisRegistry implements Registry {
  readonly #commands: RedisConnection;
  readonly #subscriber: RedisConnection;
  readonly #prefix: string;
  readonly #resyncMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #closing = new AbortController();
  readonly #leases = new Set<Lease>();
  /** The bells of each service's watches, rung on its announcements. */
  readonly #watches = new Map<string, Set<Bell>>();
  /** Services whose channel the subscriber connection is subscribed to. */
  readonly #subscribed = new Set<string>();

  /** Use `redisRegistry()`, which connects first. */
  constructor(options: RedisRegistryOptions, commands: RedisConnection, subscriber: RedisConnection) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#prefix = `${options.prefix ?? "weft:"}registry:`;
    this.#resyncMs = options.resyncMs ?? 5000;
    this.#onError = options.onError ?? (() => {});
    // Announcements made while the subscriber was away are gone: every watch lists again.
    subscriber.on("ready", () => {
      for (const bells of this.#watches.values()) for (const bell of bells) bell.ring();
    });
  }

  async register(instance: Instance, options: RegisterOptions): Promise<Registration> {
    const problem = leaseProblem(options?.ttlMs);
    if (problem !== null) throw new TypeError(problem);
    if (this.#closing.signal.aborted) throw new RpcError("unavailable", "the registry is closed");
    const copy: Instance = structuredClone(instance);
    // The token tells this registration's entry from a later one of the same id.
    const description = JSON.stringify({ instance: copy, token: crypto.randomUUID() });
    const { keys, channel } = this.#keys(copy.service);
    const put = () => REGISTER.run<number>(this.#commands, keys, [copy.id, description, String(Math.round(options.ttlMs)), channel]);
    try {
      await put();
    } catch (error) {
      throw unavailable(`could not register ${copy.service}/${copy.id}`, error);
    }
    const lease = new Lease(options.ttlMs, async () => void await put(), this.#onError);
    this.#leases.add(lease);
    return {
      instance: copy,
      deregister: async () => {
        lease.stop();
        this.#leases.delete(lease);
        try {
          await DEREGISTER.run(this.#commands, keys, [copy.id, description, channel]);
        } catch (error) {
          throw unavailable(`could not deregister ${copy.service}/${copy.id} (its lease will run out)`, error);
        }
      },
    };
  }

  async list(service: string): Promise<Instance[]> {
    return (await this.#list(service)).instances;
  }

  watch(service: string, options: WatchOptions = {}): AsyncIterable<Instance[]> {
    return this.#watch(service, options);
  }

  close(): Promise<void> {
    this.#closing.abort();
    for (const lease of this.#leases) lease.stop();
    this.#leases.clear();
    dropConnection(this.#subscriber);
    dropConnection(this.#commands);
    return Promise.resolve();
  }

  async #list(service: string): Promise<{ instances: Instance[]; nextExpiryMs: number }> {
    if (this.#closing.signal.aborted) throw new RpcError("unavailable", "the registry is closed");
    const { keys, channel } = this.#keys(service);
    let reply: (number | string)[];
    try {
      reply = await LIST.run<(number | string)[]>(this.#commands, keys, [channel]);
    } catch (error) {
      throw unavailable(`could not list ${service}`, error);
    }
    const instances: Instance[] = [];
    for (const description of reply.slice(1)) {
      try {
        instances.push((JSON.parse(String(description)) as { instance: Instance }).instance);
      } catch (error) {
        this.#onError(error); // not ours: someone else's entry under our prefix
      }
    }
    const next = Number(reply[0]);
    return { instances: sortedInstances(instances), nextExpiryMs: next < 0 ? Infinity : next };
  }

  async *#watch(service: string, options: WatchOptions): AsyncGenerator<Instance[]> {
    const signal = options.signal === undefined ? this.#closing.signal : AbortSignal.any([options.signal, this.#closing.signal]);
    const bell = new Bell();
    const { channel } = this.#keys(service);
    let bells = this.#watches.get(service);
    if (bells === undefined) this.#watches.set(service, bells = new Set());
    bells.add(bell);
    let last: Instance[] | undefined;
    let backoff = 50;
    try {
      while (!signal.aborted) {
        let wait: number;
        try {
          if (!this.#subscribed.has(service)) await this.#subscribe(service, channel);
          const { instances, nextExpiryMs } = await this.#list(service);
          backoff = 50;
          if (last === undefined || !sameInstances(last, instances)) {
            last = instances;
            yield instances;
            continue; // the consumer took its time: look again before sleeping
          }
          // A little after the soonest lease runs out, so the listing then finds it gone.
          wait = Math.min(nextExpiryMs + 5, this.#resyncMs);
        } catch (error) {
          if (signal.aborted) break;
          this.#onError(error);
          wait = backoff;
          backoff = Math.min(backoff * 2, 1000);
        }
        await bell.wait(signal, wait);
      }
    } finally {
      bells.delete(bell);
      if (bells.size === 0) {
        this.#watches.delete(service);
        this.#subscribed.delete(service);
        if (!this.#closing.signal.aborted) this.#subscriber.unsubscribe(channel).catch(() => {});
      }
    }
  }

  /** Subscribes to the service's announcements (node-redis subscribes again by itself after a reconnect). */
  async #subscribe(service: string, channel: string): Promise<void> {
    await this.#subscriber.subscribe(channel, () => {
      for (const bell of this.#watches.get(service) ?? []) bell.ring();
    });
    this.#subscribed.add(service);
  }

  #keys(service: string): Keys {
    const base = this.#prefix + service;
    return { keys: [`${base}:leases`, `${base}:instances`], channel: base };
  }
}

/** A registry on Redis (or Valkey), connected: resolves once Redis answers. Close it with `close()`. */
export async function redisRegistry(options: RedisRegistryOptions = {}): Promise<RedisRegistry> {
  const [commands, subscriber] = await connectPair(options, options.onError ?? (() => {}));
  return new RedisRegistry(options, commands, subscriber);
}
