/**
 * `serve(..., { broker })`: two instances (two Servers in this process, each listening on its
 * own port, with clients over the runtime's TCP) share a broker, in memory and on a real
 * redis-server. An emit on either reaches every client of both exactly once, in order per
 * emitting instance; when the broker is down, local emits still reach local clients.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { type Broker, type Connection, MemoryBroker, Server } from "../mod.ts";
import { redisBroker } from "../adapters/redis.ts";
import { createClient, event, router, serve, type Served } from "../src/typed/mod.ts";
import { until } from "./support/bytes.ts";
import { uniquePrefix } from "./support/cluster.ts";
import { type RedisServer, startRedis } from "./support/redis.ts";
import { adapter } from "./support/runtime.ts";

const api = router({
  notice: event(v.object({ from: v.string(), n: v.number() })),
});
type Notice = { from: string; n: number };

let redis: RedisServer | undefined;
let cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
  cleanup = [];
});

interface Instance {
  served: Served<typeof api>;
  /** What each of its clients received. */
  clients: Notice[][];
}

/** A Server serving `api` with `broker`, listening, with `clients` clients subscribed to `notice`. */
async function instance(broker: Broker, clients: number, errors: unknown[]): Promise<Instance> {
  const server = new Server();
  const served = serve(api, server, { broker: { broker, topic: "notices", onError: (e) => errors.push(e) } });
  const listener = await adapter.listen(server, { port: 0 });
  cleanup.push(() => server.close({ timeout: 100 }));
  cleanup.push(() => Promise.resolve(served.close()));
  const received: Notice[][] = [];
  for (let i = 0; i < clients; i++) {
    const connection: Connection = await adapter.connect({ port: listener.port });
    cleanup.push(() => connection.close());
    const got: Notice[] = [];
    createClient<typeof api>(connection).notice.subscribe((notice) => got.push(notice));
    received.push(got);
  }
  await until(() => server.connections.size === clients, 5000, "clients to connect");
  await served.ready;
  return { served, clients: received };
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
      const made = await Promise.all([redisBroker({ url: redis!.url, prefix }), redisBroker({ url: redis!.url, prefix })]);
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

    test("with the broker down, a local emit still reaches the local clients; the failure goes to onError", async () => {
      const errors: unknown[] = [];
      const [brokerA, brokerB] = await kind.brokers();
      const a = await instance(brokerA, 2, errors);
      await instance(brokerB, 1, errors);
      if (kind.name === "memory") await brokerA.close();
      else await redis!.stop();
      try {
        expect(a.served.emit.notice({ from: "a", n: 1 })).toBe(2);
        await until(() => a.clients.every((got) => got.length === 1), 5000, "the local clients to get it");
        await until(() => errors.length > 0, 5000, "the failed publish to be reported");
      } finally {
        if (kind.name === "redis") await redis!.start();
      }
    });
  });
}
