/**
 * `serve(..., { broker })`: two instances (two Servers in this process, each listening on its
 * own port, with clients over the runtime's TCP) share a broker, in memory and on a real
 * redis-server. An emit on either reaches every client of both exactly once, in order per
 * emitting instance; `emitTo(name)` reaches the connections joined to that name on whichever
 * instance they are; when the broker is down, local emits still reach local clients.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { type Broker, type Connection, MemoryBroker, Server } from "../mod.ts";
import { redisBroker } from "../adapters/redis.ts";
import { createClient, event, router, serve, type Served } from "../src/typed/mod.ts";
import { until } from "./support/bytes.ts";
import { uniquePrefix } from "./support/cluster.ts";
import { useRedis } from "./support/redis.ts";
import { adapter } from "./support/runtime.ts";

const api = router({
  notice: event(v.object({ from: v.string(), n: v.number() })),
});
type Notice = { from: string; n: number };

const redis = useRedis();
const cleanup = redis.cleanup;

interface Instance {
  served: Served<typeof api>;
  /** The server's side of each client (when names were given). */
  sides: Connection[];
  /** What each of its clients received. */
  clients: Notice[][];
}

/**
 * A Server serving `api` with `broker`, listening, with `clients` clients subscribed to `notice`;
 * the server's side of client i joins `names[i]` when given.
 */
async function instance(broker: Broker, clients: number, errors: unknown[], names: string[] = []): Promise<Instance> {
  const server = new Server();
  const served = serve(api, server, { broker: { broker, topic: "notices", onError: (e) => errors.push(e) } });
  const listener = await adapter.listen(server, { port: 0 });
  cleanup.push(() => server.close({ timeout: 100 }));
  cleanup.push(() => Promise.resolve(served.close()));
  const received: Notice[][] = [];
  const sides: Connection[] = [];
  for (let i = 0; i < clients; i++) {
    const before = new Set(server.connections);
    const connection: Connection = await adapter.connect({ port: listener.port });
    cleanup.push(() => connection.close());
    if (names[i] !== undefined) {
      await until(() => server.connections.size > before.size, 5000, "the server to accept the client");
      for (const serverSide of server.connections) {
        if (before.has(serverSide)) continue;
        served.join(serverSide, names[i]);
        sides.push(serverSide);
      }
    }
    const got: Notice[] = [];
    createClient<typeof api>(connection).notice.subscribe((notice) => got.push(notice));
    received.push(got);
  }
  await until(() => server.connections.size === clients, 5000, "clients to connect");
  await served.ready;
  return { served, clients: received, sides };
}

const kinds: { name: string; brokers: () => Promise<[Broker, Broker]> }[] = [
  {
    name: "memory",
    brokers: () => {
      const shared = new MemoryBroker();
      cleanup.push(() => shared.close());
      return Promise.resolve([shared, shared]);
    },
  },
  {
    name: "redis",
    brokers: async () => {
      // One broker per instance, as two processes would have, on the same keys.
      const prefix = uniquePrefix();
      const made = await Promise.all([redisBroker({ url: redis.server.url, prefix }), redisBroker({ url: redis.server.url, prefix })]);
      for (const broker of made) cleanup.push(() => broker.close());
      return made as [Broker, Broker];
    },
  },
];

for (const kind of kinds) {
  describe(`serve with a broker: ${kind.name}`, () => {
    test("an emit on either instance reaches every client of both once, in order per instance", async () => {
      const errors: unknown[] = [];
      const [brokerA, brokerB] = await kind.brokers();
      const a = await instance(brokerA, 2, errors);
      const b = await instance(brokerB, 1, errors);
      for (let n = 0; n < 25; n++) {
        expect(a.served.emit.notice({ from: "a", n })).toBe(2); // how many it went to here
        expect(b.served.emit.notice({ from: "b", n })).toBe(1);
      }
      const everyone = [...a.clients, ...b.clients];
      await until(() => everyone.every((got) => got.length >= 50), 10_000, "every client to get 50 notices");
      await new Promise((resolve) => setTimeout(resolve, 100)); // and no more than that
      for (const got of everyone) {
        expect(got.length).toBe(50);
        const order = Array.from({ length: 25 }, (_, n) => n);
        expect(got.filter((x) => x.from === "a").map((x) => x.n)).toEqual(order);
        expect(got.filter((x) => x.from === "b").map((x) => x.n)).toEqual(order);
      }
      expect(errors).toEqual([]);
    });

    test("emitTo(name) reaches the connections joined to it on either instance, and nobody else", async () => {
      const errors: unknown[] = [];
      const [brokerA, brokerB] = await kind.brokers();
      const a = await instance(brokerA, 2, errors, ["user:ann", "user:bob"]);
      const b = await instance(brokerB, 2, errors, ["user:bob", "user:cy"]); // bob is on both (two tabs)
      expect(a.served.emitTo("user:bob").notice({ from: "a", n: 1 })).toBe(1); // bob's connection here
      expect(a.served.emitTo("user:cy").notice({ from: "a", n: 2 })).toBe(0); // cy is on the other instance
      expect(b.served.emitTo("user:ann").notice({ from: "b", n: 3 })).toBe(0);
      expect(a.served.emitTo("user:nobody").notice({ from: "a", n: 4 })).toBe(0);
      const [ann, bobOnA] = a.clients;
      const [bobOnB, cy] = b.clients;
      await until(() => bobOnB.length === 1 && cy.length === 1 && ann.length === 1, 10_000, "the named notices to cross");
      await new Promise((resolve) => setTimeout(resolve, 100)); // and nothing else
      expect(ann).toEqual([{ from: "b", n: 3 }]);
      expect(bobOnA).toEqual([{ from: "a", n: 1 }]);
      expect(bobOnB).toEqual([{ from: "a", n: 1 }]);
      expect(cy).toEqual([{ from: "a", n: 2 }]);
      // An id that names one connection on every instance: cy's, sent from the other instance.
      const cyId = b.served.idOf(b.sides[1]);
      expect(b.served.idOf(b.sides[1])).toBe(cyId);
      expect(b.served.idOf(b.sides[0])).not.toBe(cyId);
      expect(a.served.emitTo(cyId).notice({ from: "a", n: 5 })).toBe(0);
      await until(() => cy.length === 2, 10_000, "the notice by id to cross");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(cy).toEqual([{ from: "a", n: 2 }, { from: "a", n: 5 }]);
      expect(bobOnB.length + bobOnA.length + ann.length).toBe(3); // nobody else got it
      expect(errors).toEqual([]);
    });

    test("with the broker down, a local emit still reaches the local clients; the failure goes to onError", async () => {
      const errors: unknown[] = [];
      const [brokerA, brokerB] = await kind.brokers();
      const a = await instance(brokerA, 2, errors);
      await instance(brokerB, 1, errors);
      if (kind.name === "memory") await brokerA.close();
      else await redis.server.stop();
      try {
        expect(a.served.emit.notice({ from: "a", n: 1 })).toBe(2);
        await until(() => a.clients.every((got) => got.length === 1), 5000, "the local clients to get it");
        await until(() => errors.length > 0, 5000, "the failed publish to be reported");
      } finally {
        if (kind.name === "redis") await redis.server.start();
      }
    });
  });
}
