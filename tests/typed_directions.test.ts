/**
 * Typed procedures in both directions: a client serves a router of its own that the
 * server calls mid-call (validated on both sides), and typed events pushed by the side
 * that serves a router to the peer that subscribes (callback and for await).
 */
import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { type PushMessage, RpcError } from "../mod.ts";
import { createClient, event, router, serve, serverStream, unary } from "../src/typed/mod.ts";
import { EVENT_CMD, namePrefix, withPrefix } from "../src/typed/wire.ts";
import { sleep, text, until } from "./support/bytes.ts";
import { cleanup, collect, errorOf, typedPair, within } from "./support/typed.ts";

afterEach(cleanup);

// ---- the server calls the client -------------------------------------------------------

const confirmed: { question: string; connectionIsOwn: boolean }[] = [];

/** What a client serves on its own connection. */
const clientRoutes = router({
  confirm: unary({ input: v.object({ question: v.pipe(v.string(), v.minLength(1)) }), output: v.boolean() }, ({ question }, ctx) => {
    confirmed.push({ question, connectionIsOwn: ctx.connection === ownConnection });
    return question.endsWith("?");
  }),
  countdown: serverStream({ input: v.number(), output: v.number() }, async function* (from) {
    for (let i = from; i > 0; i--) yield i;
  }),
  fickle: unary({ input: v.string(), output: v.number() }, (s) => s as unknown as number),
});
let ownConnection: unknown = null;

/** What the server serves: handlers that call back into their caller. */
const serverRoutes = router({
  deploy: unary({ input: v.object({ version: v.string() }), output: v.string() }, async ({ version }, ctx) => {
    const caller = createClient<typeof clientRoutes>(ctx.connection);
    const ok = await caller.confirm({ question: `deploy ${version}?` });
    return ok ? `deployed ${version}` : "not deployed";
  }),
  askBadly: unary({ input: v.boolean(), output: v.object({ code: v.string(), issues: v.unknown() }) }, async (withContract, ctx) => {
    const caller = createClient<typeof clientRoutes>(ctx.connection, withContract ? { contract: clientRoutes } : {});
    try {
      // deno-lint-ignore no-explicit-any
      await (caller.confirm as any)({ question: 42 });
      return { code: "none", issues: null };
    } catch (error) {
      return { code: (error as RpcError).code, issues: (error as RpcError).details };
    }
  }),
  relay: unary({ input: v.number(), output: v.array(v.number()) }, async (from, ctx) => {
    const out: number[] = [];
    for await (const n of createClient<typeof clientRoutes>(ctx.connection).countdown(from)) out.push(n);
    return out;
  }),
  trustClient: unary({ input: v.string(), output: v.string() }, async (s, ctx) => {
    try {
      return `got ${await createClient<typeof clientRoutes>(ctx.connection, { contract: clientRoutes }).fickle(s)}`;
    } catch (error) {
      return `failed: ${(error as RpcError).code}`;
    }
  }),
});

async function bothWays() {
  const t = await typedPair(serverRoutes);
  ownConnection = t.client;
  serve(clientRoutes, t.client);
  return t;
}

describe("the server calls the client's router", () => {
  test("mid-call, through ctx.connection: the client's handler answers on its own connection", async () => {
    const t = await bothWays();
    confirmed.length = 0;
    expect(await within(t.api.deploy({ version: "1.2" }), 2000, "deploy")).toBe("deployed 1.2");
    expect(confirmed).toEqual([{ question: "deploy 1.2?", connectionIsOwn: true }]);
    // Several at once, each waiting on its own call back.
    const versions = ["a", "b", "c", "d"];
    const results = await within(Promise.all(versions.map((version) => t.api.deploy({ version }))), 2000, "deploys");
    expect(results).toEqual(versions.map((version) => `deployed ${version}`));
    await t.close();
  });

  test("a server stream from the client, read by the server's handler", async () => {
    const t = await bothWays();
    expect(await within(t.api.relay(4), 2000, "relay")).toEqual([4, 3, 2, 1]);
    await t.close();
  });

  test("the client validates what the server sends: invalid_argument, and its handler never runs", async () => {
    const t = await bothWays();
    confirmed.length = 0;
    const result = await within(t.api.askBadly(false), 2000, "askBadly");
    expect(result.code).toBe("invalid_argument");
    expect(result.issues).toEqual({ issues: [{ path: "question", message: "Invalid type: Expected string but received 42" }] });
    expect(confirmed).toEqual([]);
    await t.close();
  });

  test("a server with the client's contract refuses the bad input before sending it", async () => {
    const t = await typedPair(serverRoutes);
    // The client counts every call by name that reaches it, typed or not.
    let arrived = 0;
    t.client.handle(0xffff, () => {
      arrived++;
      return text("true");
    });
    const refused = await within(t.api.askBadly(true), 2000, "askBadly with the contract");
    expect(refused.code).toBe("invalid_argument");
    expect(refused.issues).toEqual({ issues: [{ path: "question", message: "Invalid type: Expected string but received 42" }] });
    expect(arrived).toBe(0);
    // Without the contract the same call does leave (and this client answers it blindly).
    expect((await within(t.api.askBadly(false), 2000, "askBadly without")).code).toBe("none");
    expect(arrived).toBe(1);
    await t.close();
  });

  test("the server validates what the client answers, with the contract: internal", async () => {
    const t = await bothWays();
    expect(await within(t.api.trustClient("not a number"), 2000, "trustClient")).toBe("failed: internal");
    await t.close();
  });
});

// ---- typed events ----------------------------------------------------------------------

const eventRoutes = router({
  notice: event(v.object({ text: v.string() })),
  chat: {
    message: event(v.object({ from: v.string(), text: v.string() })),
  },
  /** Only used as a marker: once it arrives, anything pushed before it has arrived too. */
  marker: event(v.number()),
  ping: unary({ input: v.optional(v.undefined()), output: v.string() }, () => "pong"),
});

async function eventPair() {
  const t = await typedPair(eventRoutes);
  const second = await t.connect();
  await until(() => t.server.connections.size === 2, 2000, "second connection");
  return { ...t, second, api2: createClient<typeof eventRoutes>(second) };
}

describe("typed events", () => {
  test("served.emit reaches every connection; subscribe with a callback", async () => {
    const t = await eventPair();
    const first: unknown[] = [];
    const second: unknown[] = [];
    t.api.notice.subscribe((notice) => first.push(notice));
    t.api2.notice.subscribe((notice) => second.push(notice));
    expect(t.served.emit.notice({ text: "hello all" })).toBe(2);
    await until(() => first.length === 1 && second.length === 1, 2000, "both to receive");
    expect(first).toEqual([{ text: "hello all" }]);
    expect(second).toEqual([{ text: "hello all" }]);
    await t.close();
  });

  test("a nested event name, and subscribe() with for await", async () => {
    const t = await eventPair();
    const subscription = t.api.chat.message.subscribe();
    const got = within((async () => {
      const out: { from: string; text: string }[] = [];
      for await (const message of subscription) {
        out.push(message);
        if (out.length === 3) break;
      }
      return out;
    })(), 2000, "three messages");
    for (let i = 0; i < 3; i++) t.served.emit.chat.message({ from: "ann", text: `m${i}` });
    expect(await got).toEqual([0, 1, 2].map((i) => ({ from: "ann", text: `m${i}` })));
    await t.close();
  });

  test("close() ends a for await over the subscription", async () => {
    const t = await eventPair();
    const subscription = t.api.notice.subscribe();
    const all = collect(subscription, 2000);
    const markers: number[] = [];
    t.api.marker.subscribe((n) => markers.push(n));
    t.served.emit.notice({ text: "one" });
    t.served.emit.marker(1);
    await until(() => markers.length === 1, 2000, "marker");
    subscription.close();
    expect(await all).toEqual([{ text: "one" }]);
    t.served.emit.notice({ text: "after close" });
    await t.close();
  });

  test("the subscription's readable", async () => {
    const t = await eventPair();
    const reader = t.api.notice.subscribe().readable.getReader();
    t.served.emit.notice({ text: "via readable" });
    expect(await within(reader.read(), 2000, "read")).toEqual({ value: { text: "via readable" }, done: false });
    await t.close();
  });

  test("emitTo(connection) reaches only that connection", async () => {
    const t = await eventPair();
    const first: unknown[] = [];
    const second: unknown[] = [];
    t.api.notice.subscribe((notice) => first.push(notice));
    t.api2.notice.subscribe((notice) => second.push(notice));
    const markers: number[] = [];
    t.api2.marker.subscribe((n) => markers.push(n));
    expect(t.served.emitTo(t.serverSide).notice({ text: "just you" })).toBe(1);
    t.served.emit.marker(1); // to both, after the targeted one
    await until(() => first.length === 1 && markers.length === 1, 2000, "delivery");
    expect(first).toEqual([{ text: "just you" }]);
    expect(second).toEqual([]);
    await t.close();
  });

  test("emitTo(name) reaches the connections joined to it; leave() and a closed connection stop it", async () => {
    const t = await eventPair();
    const first: unknown[] = [];
    const markers: number[] = [];
    t.api.notice.subscribe((notice) => first.push(notice));
    t.api.marker.subscribe((n) => markers.push(n));
    const other = [...t.server.connections].find((c) => c !== t.serverSide)!;
    t.served.join(t.serverSide, "user:ann");
    t.served.join(other, "room:1");
    t.served.join(t.serverSide, "room:1");
    expect(t.served.emitTo("user:ann").notice({ text: "for ann" })).toBe(1);
    expect(t.served.emitTo("room:1").notice({ text: "for the room" })).toBe(2);
    t.served.leave(t.serverSide, "room:1");
    expect(t.served.emitTo("room:1").notice({ text: "ann left" })).toBe(1);
    expect(t.served.emitTo("nobody").notice({ text: "?" })).toBe(0);
    expect(() => t.served.join(t.serverSide, "")).toThrow(TypeError);
    t.served.emit.marker(1);
    await until(() => markers.length === 1, 2000, "delivery");
    expect(first).toEqual([{ text: "for ann" }, { text: "for the room" }]);
    await t.second.close();
    await until(() => !other.isOpen, 2000, "the second connection to close");
    await new Promise((resolve) => setTimeout(resolve, 10)); // its closed promise settles
    expect(t.served.emitTo("room:1").notice({ text: "empty room" })).toBe(0);
    await t.close();
  });

  test("unsubscribing stops delivery; other subscriptions go on", async () => {
    const t = await eventPair();
    const kept: unknown[] = [];
    const dropped: unknown[] = [];
    t.api.notice.subscribe((notice) => kept.push(notice));
    const off = t.api.notice.subscribe((notice) => dropped.push(notice));
    t.served.emit.notice({ text: "before" });
    await until(() => kept.length === 1 && dropped.length === 1, 2000, "first delivery");
    off();
    t.served.emit.notice({ text: "after" });
    await until(() => kept.length === 2, 2000, "second delivery");
    expect(kept).toEqual([{ text: "before" }, { text: "after" }]);
    expect(dropped).toEqual([{ text: "before" }]);
    await t.close();
  });

  test("invalid event data throws at emit, and nothing is sent", async () => {
    const t = await eventPair();
    const got: unknown[] = [];
    t.api.notice.subscribe((notice) => got.push(notice));
    const markers: number[] = [];
    t.api.marker.subscribe((n) => markers.push(n));
    let thrown: unknown = null;
    try {
      // deno-lint-ignore no-explicit-any
      (t.served.emit.notice as any)({ text: 5 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown instanceof RpcError).toBe(true);
    expect((thrown as RpcError).code).toBe("invalid_argument");
    expect((thrown as RpcError).details).toEqual({ issues: [{ path: "text", message: "Invalid type: Expected string but received 5" }] });
    t.served.emit.marker(7);
    await until(() => markers.length === 1, 2000, "marker");
    expect(got).toEqual([]);
    await t.close();
  });

  test("an event a subscriber's contract refuses is dropped and goes to onError; later events still arrive", async () => {
    const errors: unknown[] = [];
    const t = await typedPair(eventRoutes, { client: { onError: (error) => errors.push(error) } });
    const strict = router({ notice: event(v.object({ text: v.pipe(v.string(), v.maxLength(3)) })) });
    const subscription = createClient(t.client, { contract: strict }).notice.subscribe();
    const called: unknown[] = [];
    createClient(t.client, { contract: strict }).notice.subscribe((notice) => called.push(notice));
    t.served.emit.notice({ text: "ok" });
    t.served.emit.notice({ text: "far too long" });
    t.served.emit.notice({ text: "yes" });
    const got: unknown[] = [];
    for await (const notice of subscription) {
      got.push(notice);
      if (got.length === 2) break;
    }
    expect(got).toEqual([{ text: "ok" }, { text: "yes" }]);
    await until(() => called.length === 2, 2000, "the callback subscriber");
    expect(called).toEqual([{ text: "ok" }, { text: "yes" }]);
    expect(errors.length).toBe(1); // once per event, however many subscribers dropped it
    expect((errors[0] as RpcError).code).toBe("internal");
    expect((errors[0] as RpcError).message).toContain('event "notice"');
    await t.close();
  });

  // A peer that sends an event whose body is not JSON must not end the subscriber's process
  // (the error used to be thrown again in a microtask, where no application code could catch
  // it): the event is dropped, onError hears of it, the next event arrives.
  for (const form of ["a callback", "for await"] as const) {
    test(`a malformed event from the peer is dropped and goes to onError (subscribed with ${form}); the next one arrives`, async () => {
      const errors: unknown[] = [];
      const t = await typedPair(eventRoutes, { client: { onError: (error) => errors.push(error) } });
      await t.api.ping(); // the handshake: events now go by name on 0xFFFE
      const got: unknown[] = [];
      let done: Promise<unknown> = Promise.resolve();
      if (form === "a callback") t.api.notice.subscribe((notice) => got.push(notice));
      else {
        const subscription = t.api.notice.subscribe();
        done = (async () => {
          for await (const notice of subscription) {
            got.push(notice);
            break;
          }
        })();
      }
      t.serverSide.push(EVENT_CMD, withPrefix(namePrefix("notice"), text("{not json")));
      t.serverSide.push(EVENT_CMD, withPrefix(namePrefix("notice"), text("[1,")));
      t.served.emit.notice({ text: "after" });
      await until(() => got.length === 1, 2000, "the good event");
      await done;
      expect(got).toEqual([{ text: "after" }]);
      await until(() => errors.length === 2, 2000, "both bad events reported");
      expect((errors[0] as RpcError).message).toContain('event "notice" is not valid json');
      expect((errors[1] as RpcError).message).toContain('event "notice" is not valid json');
      expect(await t.api.ping()).toBe("pong"); // the connection is fine
      await t.close();
    });
  }

  test("a subscription ends when its connection closes", async () => {
    const t = await eventPair();
    const all = collect(t.api.notice.subscribe(), 2000);
    t.served.emit.notice({ text: "last" });
    await sleep(20);
    t.client.destroy();
    expect(await all).toEqual([{ text: "last" }]);
    await until(() => t.server.connections.size === 1, 2000, "the server to see the close");
    expect(t.served.emit.notice({ text: "to the other one" })).toBe(1);
    await t.close();
  });

  test("plain pushes still reach the connection's own push handler", async () => {
    const t = await eventPair();
    const plain: number[] = [];
    t.client.onPush((message: PushMessage) => plain.push(message.cmd));
    const notices: unknown[] = [];
    t.api.notice.subscribe((notice) => notices.push(notice));
    t.serverSide.push(50, text("raw"));
    t.served.emit.notice({ text: "typed" });
    t.serverSide.push(51, text("raw"));
    await until(() => plain.length === 2 && notices.length === 1, 2000, "both kinds");
    expect(plain).toEqual([50, 51]);
    expect(notices).toEqual([{ text: "typed" }]);
    await t.close();
  });

  test("a client emits its own router's events to the server", async () => {
    const t = await eventPair();
    const mine = router({ status: event(v.object({ busy: v.boolean() })) });
    const servedByClient = serve(mine, t.client);
    const seen: unknown[] = [];
    createClient<typeof mine>(t.serverSide).status.subscribe((status) => seen.push(status));
    expect(servedByClient.emit.status({ busy: true })).toBe(1);
    await until(() => seen.length === 1, 2000, "the server to hear it");
    expect(seen).toEqual([{ busy: true }]);
    expect(await t.api.ping()).toBe("pong");
    await t.close();
  });
});
