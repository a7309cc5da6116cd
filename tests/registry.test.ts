/**
 * The Registry conformance suite: the same tests against the in-memory registry and the
 * Redis one (a real redis-server started for this file). What must hold: instances register,
 * list and watch (the current set first, then each change); a deregistration and a new
 * instance reach watchers; renewals keep a live instance listed past many leases; and an
 * instance that dies without deregistering (on Redis, a process killed with SIGKILL) leaves
 * the list and every watch within its lease.
 */
import { describe, expect, test } from "bun:test";
import type { Instance, Registry } from "../mod.ts";
import { memoryRegistryKit, type RegistryKit, redisRegistryKit } from "./support/cluster.ts";
import { useRedis } from "./support/redis.ts";

const redis = useRedis();
const cleanup = redis.cleanup;
const redisErrors: unknown[] = [];

async function made(kit: RegistryKit): Promise<Registry> {
  const registry = await kit.make();
  cleanup.push(() => registry.close());
  return registry;
}

function instance(id: string, service = "api"): Instance {
  return { service, id, endpoints: [`tcp://127.0.0.1:${7000 + id.length}`], metadata: { version: "1.2.0", zone: "a", weight: 2 } };
}

const ids = (instances: Instance[]) => instances.map((i) => i.id);

/** Reads a watch until `until` holds for a set, for at most `ms`; returns every set seen. */
async function watchUntil(sets: AsyncIterator<Instance[]>, until: (set: Instance[]) => boolean, ms = 10_000): Promise<Instance[][]> {
  const seen: Instance[][] = [];
  const deadline = performance.now() + ms;
  while (seen.length < 100) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([sets.next(), new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), left)))]);
    clearTimeout(timer);
    if (next === "timeout" || next.done) break;
    seen.push(next.value);
    if (until(next.value)) break;
  }
  return seen;
}

function watching(registry: Registry, service = "api"): AsyncIterator<Instance[]> {
  const controller = new AbortController();
  const sets = registry.watch(service, { signal: controller.signal })[Symbol.asyncIterator]();
  cleanup.push(async () => {
    controller.abort();
    await sets.return?.();
  });
  return sets;
}

const kits: RegistryKit[] = [memoryRegistryKit(), redisRegistryKit(() => redis.server, redisErrors)];

for (const kit of kits) {
  describe(`registry: ${kit.name}`, () => {
    test("registered instances are listed by service, ordered by id, with their endpoints and metadata", async () => {
      const registry = await made(kit);
      await registry.register(instance("b"), { ttlMs: 5000 });
      await registry.register(instance("a"), { ttlMs: 5000 });
      await registry.register(instance("c", "other"), { ttlMs: 5000 });
      expect(await registry.list("api")).toEqual([instance("a"), instance("b")]);
      expect(ids(await registry.list("other"))).toEqual(["c"]);
      expect(await registry.list("nobody")).toEqual([]);
    });

    test("a watch yields the current set first, then a new instance, then a deregistration", async () => {
      const registry = await made(kit);
      const first = await registry.register(instance("one"), { ttlMs: 5000 });
      const sets = watching(registry);
      expect(ids(await watchUntil(sets, () => true).then((s) => s[0]))).toEqual(["one"]);
      await registry.register(instance("two"), { ttlMs: 5000 });
      const joined = await watchUntil(sets, (set) => set.length === 2);
      expect(ids(joined.at(-1)!)).toEqual(["one", "two"]);
      await first.deregister();
      const left = await watchUntil(sets, (set) => set.length === 1);
      expect(ids(left.at(-1)!)).toEqual(["two"]);
      expect(ids(await registry.list("api"))).toEqual(["two"]);
    });

    test("renewals keep a live instance listed for many leases", async () => {
      const registry = await made(kit);
      await registry.register(instance("steady"), { ttlMs: 300 });
      const until = performance.now() + 1500;
      let checks = 0;
      while (performance.now() < until && checks < 20) {
        expect(ids(await registry.list("api"))).toEqual(["steady"]);
        checks++;
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      expect(checks).toBeGreaterThanOrEqual(5);
    });

    test("an instance that dies without deregistering leaves the list and the watch within its lease", async () => {
      const registry = await made(kit);
      const ttlMs = 1000;
      const victim = await kit.elsewhere(registry, instance("doomed"), ttlMs);
      cleanup.push(() => victim.kill());
      const sets = watching(registry);
      expect(ids((await watchUntil(sets, (set) => set.length === 1)).at(-1)!)).toEqual(["doomed"]);
      await victim.kill();
      const killed = performance.now();
      const seen = await watchUntil(sets, (set) => set.length === 0, ttlMs + 5000);
      const took = performance.now() - killed;
      expect(seen.at(-1)).toEqual([]);
      // Its last renewal was at most a third of a lease before the kill; the slack is for a loaded machine.
      expect(took).toBeLessThan(ttlMs + 750);
      expect(await registry.list("api")).toEqual([]);
    }, 30_000);

    test("registering an id again replaces its entry; the old registration's deregister leaves the new one", async () => {
      const registry = await made(kit);
      const old = await registry.register(instance("same"), { ttlMs: 5000 });
      const moved = { ...instance("same"), endpoints: ["tcp://127.0.0.1:9999"] };
      await registry.register(moved, { ttlMs: 5000 });
      expect(await registry.list("api")).toEqual([moved]);
      await old.deregister();
      expect(await registry.list("api")).toEqual([moved]);
    });

    test("close() ends its watches, and it registers nothing after", async () => {
      const registry = await kit.make();
      await registry.register(instance("left-behind"), { ttlMs: 400 });
      const watch = (async () => {
        let sets = 0;
        for await (const _ of registry.watch("api")) if (++sets > 10) break;
        return sets;
      })();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await registry.close();
      expect(await watch).toBe(1);
      await expect(registry.register(instance("late"), { ttlMs: 400 })).rejects.toThrow();
    });

    test("a lease that is not a usable duration is refused", async () => {
      const registry = await made(kit);
      await expect(registry.register(instance("x"), { ttlMs: 0 })).rejects.toThrow(/ttlMs/);
      await expect(registry.register(instance("x"), { ttlMs: Infinity })).rejects.toThrow(/ttlMs/);
    });
  });
}

describe("registry: redis, when Redis restarts", () => {
  test("listing fails with unavailable while it is down; the registration comes back by its next renewal, and a watch sees it again", async () => {
    const kit = kits[1];
    const registry = await made(kit);
    await registry.register(instance("phoenix"), { ttlMs: 600 });
    const sets = watching(registry);
    expect(ids((await watchUntil(sets, () => true))[0])).toEqual(["phoenix"]);

    await redis.server.stop();
    const refused = await registry.list("api").catch((e) => e);
    expect((refused as { code?: string }).code).toBe("unavailable");
    await redis.server.start(); // empty: no persistence

    // The renewal puts the instance back (node-redis reconnects within about 2 s).
    let listed: string[] = [];
    const until = performance.now() + 15_000;
    while (!listed.includes("phoenix") && performance.now() < until) {
      listed = await registry.list("api").then(ids, () => []);
      if (!listed.includes("phoenix")) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(listed).toEqual(["phoenix"]);
    // The watch goes on after the outage (it may or may not have seen the empty Redis in between).
    await registry.register(instance("witness"), { ttlMs: 5000 });
    const seen = await watchUntil(sets, (set) => set.length === 2, 10_000);
    expect(ids(seen.at(-1)!)).toEqual(["phoenix", "witness"]);
    expect(redisErrors.length).toBeGreaterThan(0); // renewals that failed meanwhile went to onError
  }, 40_000);
});
