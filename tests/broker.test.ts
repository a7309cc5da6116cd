/**
 * The Broker conformance suite: the same tests against the in-memory broker and the Redis one
 * (a real redis-server started for this file). What must hold: every subscriber gets every
 * event once, in publish order per publisher; a subscriber catches up from its last id; one
 * that asks for more than retention kept is told so (a `gap`); abort and close end
 * subscriptions; and, on Redis, a restart mid-stream is survived: publishes fail while it is
 * down, and the subscriber goes on (with a `gap` for what Redis lost).
 */
import { describe, expect, test } from "bun:test";
import { type Broker, type BrokerDelivery, RpcError } from "../mod.ts";
import { type BrokerKit, collect, memoryBrokerKit, redisBrokerKit, texts } from "./support/cluster.ts";
import { useRedis } from "./support/redis.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

const redis = useRedis();
const cleanup = redis.cleanup;
const redisErrors: unknown[] = [];

async function made(kit: BrokerKit, retention?: Parameters<BrokerKit["make"]>[0]): Promise<Broker> {
  const broker = await kit.make(retention);
  cleanup.push(() => broker.close());
  return broker;
}

function aborter(): AbortController {
  const controller = new AbortController();
  cleanup.push(() => Promise.resolve(controller.abort()));
  return controller;
}

const events = (got: BrokerDelivery[]) => got.filter((d) => d.kind === "event");

const kits: BrokerKit[] = [memoryBrokerKit(), redisBrokerKit(() => redis.server, redisErrors)];

for (const kit of kits) {
  describe(`broker: ${kit.name}`, () => {
    test("two subscribers each get every event of two publishers once, each publisher's in its order", async () => {
      const broker = await made(kit);
      const signal = aborter().signal;
      const first = broker.subscribe("orders", { signal });
      const second = broker.subscribe("orders", { signal });
      await Promise.all([first.ready, second.ready]);
      const publisher = async (name: string) => {
        const ids: string[] = [];
        for (let i = 0; i < 40; i++) ids.push(await broker.publish("orders", bytes(`${name}${i}`)));
        return ids;
      };
      const reading = [first, second].map((s) => collect(s, (got) => got.length >= 80));
      const published = (await Promise.all([publisher("a"), publisher("b")])).flat();
      for (const got of await Promise.all(reading)) {
        expect(got.every((d) => d.kind === "event")).toBe(true);
        const received = texts(got);
        expect(received.length).toBe(80);
        expect(received.filter((t) => t.startsWith("a"))).toEqual(Array.from({ length: 40 }, (_, i) => `a${i}`));
        expect(received.filter((t) => t.startsWith("b"))).toEqual(Array.from({ length: 40 }, (_, i) => `b${i}`));
        expect(new Set(events(got).map((d) => d.id))).toEqual(new Set(published));
      }
    });

    test("topics are apart: a subscriber gets only its topic's events", async () => {
      const broker = await made(kit);
      const subscription = broker.subscribe("left", { signal: aborter().signal });
      await subscription.ready;
      await broker.publish("right", bytes("not for you"));
      await broker.publish("left", bytes("yours"));
      const got = await collect(subscription, (g) => g.length >= 1);
      expect(texts(got)).toEqual(["yours"]);
      expect(got[0].topic).toBe("left");
    });

    test("a subscriber that was away catches up from its lastEventId, then gets live events", async () => {
      const broker = await made(kit);
      const ids = [];
      for (const text of ["e1", "e2", "e3"]) ids.push(await broker.publish("feed", bytes(text)));
      const subscription = broker.subscribe("feed", { signal: aborter().signal, lastEventId: ids[0] });
      await subscription.ready;
      await broker.publish("feed", bytes("e4"));
      const got = await collect(subscription, (g) => g.length >= 3);
      expect(got.map((d) => d.kind)).toEqual(["event", "event", "event"]);
      expect(texts(got)).toEqual(["e2", "e3", "e4"]);
      expect((got[0] as { id: string }).id).toBe(ids[1]);
    });

    test("a lastEventId older than retention gets a gap first, then the events still retained, in order", async () => {
      const broker = await made(kit, { maxEvents: 10 });
      const oldest = await broker.publish("busy", bytes("0"));
      let newest = "";
      // Redis trims whole stream nodes (100 entries): publish enough for some to go.
      for (let i = 1; i <= 300; i++) newest = await broker.publish("busy", bytes(String(i)));
      const subscription = broker.subscribe("busy", { signal: aborter().signal, lastEventId: oldest });
      const got = await collect(subscription, (g) => g.some((d) => d.kind === "event" && d.id === newest), { max: 400 });
      expect(got[0]).toEqual({ kind: "gap", topic: "busy", after: oldest });
      const numbers = texts(got).map(Number);
      expect(numbers.length).toBeGreaterThanOrEqual(10);
      expect(numbers.length).toBeLessThan(300);
      expect(numbers.at(-1)).toBe(300);
      expect(numbers).toEqual(numbers.map((_, i) => numbers[0] + i)); // contiguous: nothing missing after the gap
      expect(got.filter((d) => d.kind === "gap").length).toBe(1);
    });

    test("a lastEventId this broker never gave gets a gap, then everything retained", async () => {
      const broker = await made(kit);
      await broker.publish("strange", bytes("kept"));
      const subscription = broker.subscribe("strange", { signal: aborter().signal, lastEventId: "no such id" });
      const got = await collect(subscription, (g) => g.length >= 2);
      expect(got[0]).toEqual({ kind: "gap", topic: "strange", after: "no such id" });
      expect(texts(got)).toEqual(["kept"]);
    });

    test("a lastEventId that is the newest event gets no gap and only later events", async () => {
      const broker = await made(kit);
      const last = await broker.publish("quiet", bytes("seen"));
      const subscription = broker.subscribe("quiet", { signal: aborter().signal, lastEventId: last });
      await subscription.ready;
      await broker.publish("quiet", bytes("new"));
      const got = await collect(subscription, (g) => g.length >= 1);
      expect(got.map((d) => d.kind)).toEqual(["event"]);
      expect(texts(got)).toEqual(["new"]);
    });

    test("abort ends the iterator, also while it waits for an event", async () => {
      const broker = await made(kit);
      const controller = new AbortController();
      const subscription = broker.subscribe("idle", { signal: controller.signal });
      await subscription.ready;
      const ended = (async () => {
        let count = 0;
        for await (const _ of subscription) count++;
        return count;
      })();
      setTimeout(() => controller.abort(), 50);
      expect(await ended).toBe(0);
      // Publishing after the subscriber left is fine.
      expect(typeof await broker.publish("idle", bytes("late"))).toBe("string");
    });

    test("close() ends every subscription, and publish after it rejects with unavailable", async () => {
      const broker = await kit.make();
      const subscriptions = [broker.subscribe("a"), broker.subscribe("b")];
      await Promise.all(subscriptions.map((s) => s.ready));
      const loops = subscriptions.map(async (subscription) => {
        for await (const _ of subscription) { /* nothing is published */ }
        return "ended";
      });
      await broker.close();
      expect(await Promise.all(loops)).toEqual(["ended", "ended"]);
      const error = await broker.publish("a", bytes("x")).catch((e) => e);
      expect(error).toBeInstanceOf(RpcError);
      expect((error as RpcError).code).toBe("unavailable");
    });
  });
}

describe("broker: redis, when Redis restarts mid-stream", () => {
  test("publishes fail with unavailable while it is down; the subscriber resumes without crashing, told of what Redis lost", async () => {
    const broker = await made(kit("redis"));
    const subscription = broker.subscribe("live", { signal: aborter().signal });
    await subscription.ready;
    for (let i = 1; i <= 5; i++) await broker.publish("live", bytes(`before${i}`));
    const reading = collect(subscription, (g) => texts(g).includes("after3"), { ms: 25_000 });

    await redis.server.stop();
    const refused = await broker.publish("live", bytes("while down")).catch((e) => e);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).code).toBe("unavailable");

    await redis.server.start();
    // node-redis reconnects with backoff (2 s at most between attempts): publish once it is back.
    const until = performance.now() + 15_000;
    let first: string | undefined;
    while (first === undefined && performance.now() < until) {
      first = await broker.publish("live", bytes("after1")).catch(() => undefined);
      if (first === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(first).toBeDefined();
    for (const text of ["after2", "after3"]) await broker.publish("live", bytes(text));

    const got = await reading;
    expect(texts(got)).toEqual(["before1", "before2", "before3", "before4", "before5", "after1", "after2", "after3"]);
    // The restarted Redis has none of the old stream: the subscriber cannot know nothing was lost in it, and says so.
    const gapAt = got.findIndex((d) => d.kind === "gap");
    expect(gapAt).toBe(5);
    expect(redisErrors.length).toBeGreaterThan(0); // the outage was reported to onError, not thrown
  }, 40_000);
});

function kit(name: string): BrokerKit {
  return kits.find((k) => k.name === name)!;
}
