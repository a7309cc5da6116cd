/**
 * `new Server({ registration })`: a server is in the registry while it listens (with its
 * listener's endpoint, which a channel can dial), and leaves it when it closes gracefully,
 * in memory and on a real redis-server. A registry that fails never stops the server. A
 * channel given `{ registry, service }` follows the service's instances as they come and go.
 */
import { describe, expect, test } from "bun:test";
import { type Instance, type Registry, RpcError, Server } from "../mod.ts";
import { str, text } from "./support/bytes.ts";
import { createChannel, FAST_RECONNECT } from "./support/channel.ts";
import { memoryRegistryKit, type RegistryKit, redisRegistryKit } from "./support/cluster.ts";
import { useRedis } from "./support/redis.ts";
import { adapter } from "./support/runtime.ts";

const redis = useRedis();
const cleanup = redis.cleanup;

/** Lists `service` until `until` holds (5 s at most). */
async function listUntil(registry: Registry, service: string, until: (instances: Instance[]) => boolean): Promise<Instance[]> {
  const deadline = performance.now() + 5000;
  let instances = await registry.list(service);
  while (!until(instances) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    instances = await registry.list(service);
  }
  return instances;
}

const kits: RegistryKit[] = [memoryRegistryKit(), redisRegistryKit(() => redis.server, [])];

for (const kit of kits) {
  describe(`a server with a registration: ${kit.name}`, () => {
    test("is listed while it listens, with an endpoint a channel dials, and leaves when it closes", async () => {
      const registry = await kit.make();
      cleanup.push(() => registry.close());
      const server = new Server({ registration: { registry, service: "echo", id: "echo-1", metadata: { zone: "a" }, ttlMs: 2000 } });
      server.handle(1, (request) => request.payload);
      cleanup.push(() => server.close({ timeout: 100 }));
      const listener = await adapter.listen(server, { port: 0 });

      const listed = await listUntil(registry, "echo", (instances) => instances.length === 1);
      expect(listed).toEqual([{ service: "echo", id: "echo-1", endpoints: [(listener as { endpoint: string }).endpoint], metadata: { zone: "a" } }]);

      const channel = createChannel(listed[0].endpoints, { reconnect: FAST_RECONNECT, readyTimeout: 5000 });
      cleanup.push(() => channel.close({ timeout: 100 }));
      expect(str((await channel.request(1, text("found"))).payload)).toBe("found");

      await server.close({ timeout: 100 });
      expect(await registry.list("echo")).toEqual([]);
    });

    test("a channel on { registry, service } follows the instances: a new one gets traffic, a closed one and a dead one are dropped", async () => {
      const registry = await kit.make();
      cleanup.push(() => registry.close());
      const served = new Map<string, number>();
      const start = async (id: string) => {
        const server = new Server({ registration: { registry, service: "counted", id, ttlMs: 1000 } });
        server.handle(1, () => {
          served.set(id, (served.get(id) ?? 0) + 1);
          return text(id);
        });
        cleanup.push(() => server.close({ timeout: 100 }));
        const listener = await adapter.listen(server, { port: 0 });
        return { server, listener: listener as typeof listener & { endpoint: string } };
      };
      const a = await start("a");
      const channel = createChannel({ registry, service: "counted" }, { reconnect: FAST_RECONNECT, readyTimeout: 5000 });
      cleanup.push(() => channel.close({ timeout: 100 }));
      const endpointsUntil = async (until: (endpoints: string[]) => boolean) => {
        const deadline = performance.now() + 5000;
        while (!until(channel.endpoints.map((e) => e.endpoint)) && performance.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return channel.endpoints.map((e) => e.endpoint).sort();
      };
      expect(str((await channel.request(1, text("x"))).payload)).toBe("a");

      const b = await start("b");
      expect(await endpointsUntil((e) => e.length === 2)).toEqual([a.listener.endpoint, b.listener.endpoint].sort());
      served.clear();
      for (let i = 0; i < 20; i++) await channel.request(1, text("x"));
      expect(served.get("a")).toBeGreaterThan(0);
      expect(served.get("b")).toBeGreaterThan(0); // round-robin reached the newcomer

      await a.server.close({ timeout: 100 }); // deregisters
      expect(await endpointsUntil((e) => e.length === 1)).toEqual([b.listener.endpoint]);

      // An instance that dies without deregistering: gone from the channel once its lease runs out.
      const ghost = new Server();
      cleanup.push(() => ghost.close({ timeout: 100 }));
      const ghostListener = (await adapter.listen(ghost, { port: 0 })) as { endpoint: string; close(): Promise<void> };
      const victim = await kit.elsewhere(registry, { service: "counted", id: "ghost", endpoints: [ghostListener.endpoint] }, 1000);
      cleanup.push(() => victim.kill()); // also when an expectation fails first
      expect(await endpointsUntil((e) => e.length === 2)).toContain(ghostListener.endpoint);
      await victim.kill();
      await ghostListener.close();
      await ghost.close({ timeout: 0 });
      expect(await endpointsUntil((e) => e.length === 1)).toEqual([b.listener.endpoint]);
      served.clear();
      for (let i = 0; i < 10; i++) expect(str((await channel.request(1, text("x"))).payload)).toBe("b");
    }, 20_000);

    test("a registry that refuses does not stop the server: it listens, serves and closes, and onError hears of it", async () => {
      const registry = await kit.make();
      await registry.close(); // every register() now fails
      const errors: unknown[] = [];
      const server = new Server({ registration: { registry, service: "echo", onError: (e) => errors.push(e) } });
      server.handle(1, (request) => request.payload);
      cleanup.push(() => server.close({ timeout: 100 }));
      const listener = await adapter.listen(server, { port: 0 });
      const connection = await adapter.connect({ port: listener.port });
      cleanup.push(() => connection.close());
      expect(str((await connection.request(1, text("still here"))).payload)).toBe("still here");
      await server.close({ timeout: 100 });
      expect(errors.length).toBeGreaterThan(0);
      expect(errors[0]).toBeInstanceOf(RpcError);
    });
  });
}
