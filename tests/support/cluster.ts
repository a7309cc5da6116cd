/**
 * What the broker and registry conformance suites share: each implementation as a kit the
 * same test bodies run against (in memory, on a real Redis), and helpers that read a bounded
 * number of deliveries within a bounded time.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Broker, type BrokerDelivery, type Instance, MemoryBroker, MemoryRegistry, type Registry, type Retention } from "../../mod.ts";
import { redisBroker, redisRegistry } from "../../adapters/redis.ts";
import type { RedisServer } from "./redis.ts";
import { ready } from "./child_server.ts";
import { commandFor, runtime } from "./runtime.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** A key prefix of its own for each broker or registry a test makes, so tests never see each other's keys. */
export function uniquePrefix(): string {
  return `weft-test-${Math.random().toString(36).slice(2, 10)}:`;
}

/** Reads deliveries until `until` says stop, at most `max` of them and for at most `ms`. */
export async function collect(
  subscription: AsyncIterable<BrokerDelivery>,
  until: (got: BrokerDelivery[]) => boolean,
  { max = 10_000, ms = 10_000 } = {},
): Promise<BrokerDelivery[]> {
  const got: BrokerDelivery[] = [];
  const deadline = performance.now() + ms;
  const iterator = subscription[Symbol.asyncIterator]();
  try {
    while (got.length < max && !until(got)) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        iterator.next(),
        new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), left))),
      ]);
      clearTimeout(timer);
      if (next === "timeout" || next.done) break;
      got.push(next.value);
    }
  } finally {
    // Not awaited: a generator blocked in next() finishes once its signal aborts.
    void iterator.return?.();
  }
  return got;
}

/** The payloads of the events among `deliveries`, as text. */
export function texts(deliveries: BrokerDelivery[]): string[] {
  const decoder = new TextDecoder();
  return deliveries.flatMap((d) => (d.kind === "event" ? [decoder.decode(d.data)] : []));
}

export interface BrokerKit {
  readonly name: string;
  make(retention?: Retention): Promise<Broker>;
}

export function memoryBrokerKit(): BrokerKit {
  return { name: "memory", make: (retention) => Promise.resolve(new MemoryBroker({ retention })) };
}

export function redisBrokerKit(redis: () => RedisServer, errors: unknown[]): BrokerKit {
  return {
    name: "redis",
    make: (retention) => redisBroker({ url: redis().url, prefix: uniquePrefix(), retention, onError: (e) => errors.push(e) }),
  };
}

/** An instance registered by someone else, that can die without deregistering. */
export interface Victim {
  /** Dies: renewals stop, nothing is deregistered. */
  kill(): Promise<void>;
}

export interface RegistryKit {
  readonly name: string;
  make(): Promise<Registry>;
  /** Registers `instance` elsewhere (another handle; for Redis, another process) with a lease of `ttlMs`. */
  elsewhere(registry: Registry, instance: Instance, ttlMs: number): Promise<Victim>;
}

export function memoryRegistryKit(): RegistryKit {
  return {
    name: "memory",
    make: () => Promise.resolve(new MemoryRegistry()),
    elsewhere: async (registry, instance, ttlMs) => {
      // Another part of the process on the same entries; closing it stops its renewals, as dying would.
      const other = new MemoryRegistry({ sharing: registry as MemoryRegistry });
      await other.register(instance, { ttlMs });
      return { kill: () => other.close() };
    },
  };
}

export function redisRegistryKit(redis: () => RedisServer, errors: unknown[]): RegistryKit {
  const prefixes = new WeakMap<Registry, string>();
  return {
    name: "redis",
    make: async () => {
      const prefix = uniquePrefix();
      const registry = await redisRegistry({ url: redis().url, prefix, onError: (e) => errors.push(e) });
      prefixes.set(registry, prefix);
      return registry;
    },
    elsewhere: (registry, instance, ttlMs) => registrant(redis().url, prefixes.get(registry)!, instance, ttlMs),
  };
}

/** tests/fixtures/registrant.ts on the runtime under test: registers, renews, and is killed with SIGKILL. */
async function registrant(url: string, prefix: string, instance: Instance, ttlMs: number, ms = 30_000): Promise<Victim> {
  const [command, ...args] = commandFor(runtime, "tests/fixtures/registrant.ts");
  const child = spawn(command, [...args, url, prefix, instance.service, instance.id, String(ttlMs), JSON.stringify(instance.endpoints)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await ready(child, /registered/, "the registrant", ms);
  return {
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
