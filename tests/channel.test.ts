/**
 * Channels against in-process servers on 127.0.0.1 (the runtime under test, TCP and then
 * WebSocket): lazy connecting and the state to watch, waiting for a connection with a bound,
 * goaway failover, each balancing policy, retries and their limits, rate limits honoured,
 * circuit breakers, broadcast, typed subscriptions across a reconnect, and a tracked server
 * stream resumed after its connection drops. Process kills are in channel_faults.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import type { TcpListener } from "../adapters/options.ts";
import { type Channel, type ChannelStatus, RpcError, Server } from "../mod.ts";
import { createClient, event, rateLimit, router, serve, serverStream, tracked, unary } from "../src/typed/mod.ts";
import { sleep, str, text, until } from "./support/bytes.ts";
import { createChannel, endpointFor, FAST_RECONNECT } from "./support/channel.ts";
import { startProxy } from "./support/proxy.ts";
import { adapter, overTcp } from "./support/runtime.ts";

interface Running {
  name: string;
  server: Server;
  listener: TcpListener;
  /** Times each cmd ran here. */
  ran: Map<number, number>;
  url: string;
  close(timeout?: number): Promise<void>;
}

let open: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of open.reverse()) await close().catch(() => {});
  open = [];
});

/**
 * Listens on `port`, again and again while it is still taken: a restart on the same port
 * in one process (Deno frees a WebSocket listener's port only once its connections are gone).
 */
async function listenOn(server: Server, port: number): Promise<TcpListener> {
  const deadline = performance.now() + 3000;
  for (;;) {
    try {
      return await adapter.listen(server, { port });
    } catch (error) {
      if (port === 0 || performance.now() > deadline || !/in use/i.test(String(error))) throw error;
      await sleep(20);
    }
  }
}

/** A server named `name`: cmd 1 answers its name, cmd 3 waits the payload's ms first; `setup` adds more. */
async function running(name: string, setup: (server: Server, ran: Map<number, number>) => void = () => {}, port = 0): Promise<Running> {
  const ran = new Map<number, number>();
  const count = (cmd: number) => ran.set(cmd, (ran.get(cmd) ?? 0) + 1);
  const server = new Server();
  server.handle(1, () => (count(1), text(name)));
  server.handle(3, async (request) => {
    count(3);
    await sleep(Number(str(request.payload)));
    return text(name);
  });
  setup(server, ran);
  const listener = await listenOn(server, port);
  const close = async (timeout = 100) => {
    await listener.close();
    await server.close({ timeout });
  };
  open.push(close);
  return { name, server, listener, ran, url: endpointFor(listener.port), close };
}

function channel(endpoints: string[], options: Parameters<typeof createChannel>[1] = {}): Channel {
  const made = createChannel(endpoints, { reconnect: FAST_RECONNECT, ...options });
  open.push(() => made.close({ timeout: 100 }));
  return made;
}

const nameOf = async (reply: Promise<{ payload: Uint8Array }>) => str((await reply).payload);

/** The error a call fails with (a call that succeeds fails the test). */
const failure = (call: Promise<unknown>): Promise<RpcError> =>
  call.then(() => {
    throw new Error("the call was expected to fail");
  }, (error) => error as RpcError);

describe("connecting", () => {
  test("lazily: nothing connects before the first call; the states go idle, connecting, ready, and status() sees each", async () => {
    const a = await running("A");
    const client = channel([a.url]);
    const seen: ChannelStatus[] = [];
    const watched = (async () => {
      for await (const status of client.status()) seen.push(status);
    })();
    await sleep(50);
    expect(client.state).toBe("idle");
    expect(a.server.connections.size).toBe(0);
    expect(await nameOf(client.request(1))).toBe("A");
    expect(client.state).toBe("ready");
    await client.close();
    await watched; // the iterator ends with the channel
    expect(seen.map((s) => s.state)).toEqual(["connecting", "ready", "closed"]);
    expect(seen[1].endpoint).toBe(a.url);
  });

  test("eager: it connects at once; ready() resolves when it has", async () => {
    const a = await running("A");
    const statuses: string[] = [];
    const client = channel([a.url], { eager: true, onStatus: (s) => statuses.push(s.state) });
    await client.ready();
    expect(a.server.connections.size).toBe(1);
    expect(statuses).toEqual(["connecting", "ready"]);
  });

  test("with no server, a call waits readyTimeout and fails with unavailable naming the endpoint; its own shorter timeout wins", async () => {
    const gone = await running("gone");
    await gone.close();
    const client = channel([gone.url], { readyTimeout: 300 });
    const started = performance.now();
    const error = await failure(client.request(1));
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain(gone.url);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    const timedOut = await failure(client.request(1, undefined, { timeout: 50 }));
    expect(timedOut.code).toBe("deadline_exceeded");
  });

  test("a closed channel refuses calls with unavailable, and close() fails the calls waiting for a connection", async () => {
    const gone = await running("gone");
    await gone.close();
    const client = channel([gone.url], { readyTimeout: 10_000 });
    const waiting = failure(client.request(1));
    await sleep(30);
    await client.close();
    expect((await waiting).code).toBe("unavailable");
    expect(((await client.request(1).catch((e) => e)) as RpcError).code).toBe("unavailable");
    expect(client.state).toBe("closed");
  });

  test("a request stream on a channel: made before any connection is ready, it waits, then its sends go through", async () => {
    const a = await running("A", (server) => {
      server.handle(4, async (request) => {
        const parts: string[] = [];
        for await (const chunk of request.stream) parts.push(str(chunk));
        return text(parts.join("+"));
      });
    });
    const client = channel([a.url]);
    const early = client.call(4, { nonBlocking: true }); // nothing connected yet: a waiting call
    await early.send(text("a"));
    await early.send(text("b"));
    await early.end(text("c"));
    expect(str((await early.response).payload)).toBe("a+b+c");
    const late = client.call(4, { nonBlocking: true }); // connected: the engine's own call
    await late.end(text("d"));
    expect(str((await late.response).payload)).toBe("d");
    // The channel sums its connections' stream counts: three frames then one, none open now.
    expect(client.streams).toMatchObject({ open: 0, framesWritten: 4, framesRead: 0 });
  });

  test("the server calls the client back through the channel's handlers", async () => {
    const a = await running("A", (server) => {
      server.handle(6, async (request) => (await request.connection.request(100, request.payload)).payload);
    });
    const client = channel([a.url]);
    client.handle(100, (request) => text(`client got ${str(request.payload)}`));
    expect(await nameOf(client.request(6, text("x")))).toBe("client got x");
  });
});

describe("goaway and restarts", () => {
  test("goaway: the call in flight finishes on the old connection; new calls go to the other endpoint, with no error", async () => {
    const a = await running("A");
    const b = await running("B");
    const client = channel([a.url, b.url]);
    await client.ready();
    await until(() => client.endpoints.every((e) => e.state === "ready"), 3000, "both endpoints");
    const slow = nameOf(client.request(3, text("300")));
    await sleep(30);
    const holder = a.ran.get(3) === 1 ? a : b;
    const other = holder === a ? b : a;
    const closing = holder.close(2000);
    await sleep(30);
    const names = await Promise.all(Array.from({ length: 20 }, () => nameOf(client.request(1))));
    expect(new Set(names)).toEqual(new Set([other.name]));
    expect(await slow).toBe(holder.name);
    await closing;
  });

  test("a graceful restart on the same port: the calls made meanwhile wait and succeed", async () => {
    const a = await running("A");
    const client = channel([a.url], { readyTimeout: 5000 });
    expect(await nameOf(client.request(1))).toBe("A");
    await a.close(1000);
    const meanwhile = Array.from({ length: 10 }, () => nameOf(client.request(1)));
    await sleep(100);
    await running("B", undefined, a.listener.port);
    expect(await Promise.all(meanwhile)).toEqual(Array(10).fill("B"));
  });
});

describe("balancing", () => {
  test("round-robin spreads calls evenly over three endpoints", async () => {
    const servers = await Promise.all(["A", "B", "C"].map((n) => running(n)));
    const client = channel(servers.map((s) => s.url), { eager: true });
    await until(() => client.endpoints.every((e) => e.state === "ready"), 3000, "all ready");
    const names = [];
    for (let i = 0; i < 30; i++) names.push(await nameOf(client.request(1)));
    for (const n of ["A", "B", "C"]) expect(names.filter((x) => x === n).length).toBe(10);
  });

  test("consistent hash: a key sticks to its endpoint; when that endpoint goes, only its keys move", async () => {
    const servers = await Promise.all(["A", "B", "C"].map((n) => running(n)));
    const client = channel(servers.map((s) => s.url), { balance: "consistent-hash", eager: true });
    await until(() => client.endpoints.every((e) => e.state === "ready"), 3000, "all ready");
    const keys = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    const owner = async (key: string) => nameOf(client.request(1, undefined, { hashKey: key }));
    const before = await Promise.all(keys.map(owner));
    expect(await Promise.all(keys.map(owner))).toEqual(before); // stable
    expect(new Set(before).size).toBe(3);
    await servers[1].close();
    await until(() => client.endpoints.filter((e) => e.state === "ready").length === 2, 3000, "B gone");
    const after = await Promise.all(keys.map(owner));
    keys.forEach((_, i) => {
      if (before[i] !== "B") expect(after[i]).toBe(before[i]);
      else expect(after[i]).not.toBe("B");
    });
  });

  test("least-loaded: with one endpoint busy, new calls go to the idle one", async () => {
    const servers = await Promise.all(["A", "B"].map((n) => running(n)));
    const client = channel(servers.map((s) => s.url), { balance: "least-loaded", eager: true });
    await until(() => client.endpoints.every((e) => e.state === "ready"), 3000, "all ready");
    const slow = Array.from({ length: 6 }, () => client.request(3, text("200")));
    await sleep(20);
    // p2c over two endpoints picks the one with fewer in flight: they split the slow calls evenly.
    expect(client.endpoints.map((e) => e.inFlight).sort()).toEqual([3, 3]);
    await Promise.all(slow);
  });

  test("random uses every endpoint", async () => {
    const servers = await Promise.all(["A", "B", "C"].map((n) => running(n)));
    const client = channel(servers.map((s) => s.url), { balance: "random", eager: true });
    await until(() => client.endpoints.every((e) => e.state === "ready"), 3000, "all ready");
    const names = await Promise.all(Array.from({ length: 90 }, () => nameOf(client.request(1))));
    for (const n of ["A", "B", "C"]) expect(names.filter((x) => x === n).length).toBeGreaterThan(5);
  });
});

describe("retries", () => {
  /** A server whose cmd 5 fails `failures` times with `error`, then answers. */
  const flaky = (failures: number, error: () => RpcError) =>
    running("F", (server, ran) => {
      server.handle(5, () => {
        const n = (ran.get(5) ?? 0) + 1;
        ran.set(5, n);
        if (n <= failures) throw error();
        return text("ok");
      });
    });

  test("a call the server turned away before running it (unprocessed) is retried until it passes", async () => {
    const f = await flaky(2, () => new RpcError("unavailable", "busy", { refused: true }));
    const client = channel([f.url]);
    expect(await nameOf(client.request(5))).toBe("ok");
    expect(f.ran.get(5)).toBe(3);
  });

  test("an unprocessed error a handler got from a call of its own is not passed on as unprocessed: its caller's call is not run again", async () => {
    let ran = 0;
    const gone = await running("gone");
    await gone.close();
    const downstream = channel([gone.url], { readyTimeout: 20 });
    const f = await running("F", (server) => {
      server.handle(5, async () => {
        ran++;
        return (await downstream.request(1)).payload; // fails: unavailable, unprocessed (no connection)
      });
    });
    const client = channel([f.url]);
    const error = await failure(client.request(5));
    expect(error.code).toBe("unavailable");
    expect(error.unprocessed).toBe(false);
    expect(ran).toBe(1);
  });

  test("unavailable from a handler that may have run is not retried, unless the call is idempotent", async () => {
    const f = await flaky(1, () => new RpcError("unavailable", "went wrong midway"));
    const client = channel([f.url]);
    expect(((await client.request(5).catch((e) => e)) as RpcError).message).toContain("went wrong midway");
    expect(f.ran.get(5)).toBe(1);
    f.ran.set(5, 0);
    expect(await nameOf(client.request(5, undefined, { idempotent: true }))).toBe("ok");
    expect(f.ran.get(5)).toBe(2);
  });

  test("maxAttempts bounds the attempts; retry: false makes none; other codes are not retried", async () => {
    const f = await flaky(100, () => new RpcError("unavailable", "down", { refused: true }));
    const client = channel([f.url], { retry: { maxAttempts: 4, backoff: { initialDelay: 1, maxDelay: 5 } } });
    await client.request(5).catch(() => {});
    expect(f.ran.get(5)).toBe(4);
    f.ran.set(5, 0);
    await client.request(5, undefined, { retry: false }).catch(() => {});
    expect(f.ran.get(5)).toBe(1);
    const g = await flaky(100, () => new RpcError("not_found", "no", { refused: true }));
    const other = channel([g.url]);
    await other.request(5).catch(() => {});
    expect(g.ran.get(5)).toBe(1);
  });

  test("the retry budget stops retries once failures outnumber successes", async () => {
    const f = await flaky(1000, () => new RpcError("unavailable", "down"));
    const client = channel([f.url], {
      breaker: false,
      retryBudget: { maxTokens: 10 },
      retry: { idempotent: true, maxAttempts: 5, backoff: { initialDelay: 1, maxDelay: 2 } },
    });
    for (let i = 0; i < 20; i++) await client.request(5).catch(() => {});
    // 20 calls: the first few retry until the bucket is half empty (5 failures), then none do.
    expect(f.ran.get(5)).toBeLessThanOrEqual(20 + 5);
    expect(f.ran.get(5)).toBeGreaterThan(20);
  });

  test("a rate-limited call waits the server's retryAfter and then passes", async () => {
    const routes = router({ hit: unary({ input: v.number(), output: v.number() }, (n) => n) });
    let listener!: TcpListener;
    const server = new Server();
    serve(routes, server, { middleware: [rateLimit({ perProcedure: { hit: { rate: 5, burst: 1 } } })] });
    listener = await adapter.listen(server, { port: 0 });
    open.push(() => server.close({ timeout: 100 }));
    const client = channel([endpointFor(listener.port)], { retry: { codes: ["unavailable", "resource_exhausted"] } });
    const api = createClient<typeof routes>(client);
    const started = performance.now();
    expect(await api.hit(1)).toBe(1);
    expect(await api.hit(2)).toBe(2); // refused once with retryAfter ~200 ms, then let through
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    const refused = await failure(createClient<typeof routes>(client).hit(3, { retry: false }));
    expect(refused.code).toBe("resource_exhausted");
    expect((refused.details as { retryAfter: number }).retryAfter).toBeGreaterThan(0);
  });
});

describe("circuit breaking", () => {
  test("an endpoint that keeps failing is cut off by its breaker; calls go to the healthy one", async () => {
    const bad = await running("bad", (server) => server.handle(7, () => {
      throw new RpcError("internal", "broken");
    }));
    const good = await running("good", (server) => server.handle(7, () => text("good")));
    const count = { bad: 0 };
    bad.server.mux.handle(7, () => {
      count.bad++;
      throw new RpcError("internal", "broken");
    });
    const client = channel([bad.url, good.url], { breaker: { minCalls: 4, failureRatio: 0.5, openFor: 60_000 }, eager: true });
    await until(() => client.endpoints.every((e) => e.state === "ready"), 3000, "all ready");
    for (let i = 0; i < 40; i++) await client.request(7).catch(() => {});
    expect(count.bad).toBeLessThanOrEqual(5);
    expect(client.endpoints.find((e) => e.endpoint === bad.url)?.breaker).toBe("open");
    expect(await nameOf(client.request(7))).toBe("good");
  });

  test("with every connected endpoint's breaker open, calls fail fast with unavailable", async () => {
    const bad = await running("bad", (server) => server.handle(7, () => {
      throw new RpcError("internal", "broken");
    }));
    const client = channel([bad.url], { breaker: { minCalls: 4, failureRatio: 0.5, openFor: 60_000 }, readyTimeout: 10_000 });
    for (let i = 0; i < 4; i++) await client.request(7).catch(() => {});
    const started = performance.now();
    const error = (await client.request(7).catch((e) => e)) as RpcError;
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain("breaker open");
    expect(performance.now() - started).toBeLessThan(1000); // not readyTimeout
  });
});

describe("broadcast", () => {
  test("every endpoint's outcome, a value or an error each; broadcastOne fails with the error", async () => {
    const servers = await Promise.all(["A", "B"].map((n) => running(n)));
    const failing = await running("C", (server) => server.handle(1, () => {
      throw new RpcError("internal", "C is broken");
    }));
    const client = channel([...servers, failing].map((s) => s.url));
    const results = await client.broadcast(async (connection) => str((await connection.request(1)).payload));
    expect(results.map((r) => ("value" in r ? r.value : (r.error as RpcError).code))).toEqual(["A", "B", "internal"]);
    const error = await client.broadcastOne(async (connection) => str((await connection.request(1)).payload)).catch((e) => e);
    expect((error as RpcError).message).toContain("C is broken");
    const fine = channel(servers.map((s) => s.url));
    expect(["A", "B"]).toContain(await fine.broadcastOne(async (c) => str((await c.request(1)).payload)));
  });
});

describe("typed calls across reconnects", () => {
  const routes = router({
    notice: event(v.string()),
    ping: unary({ input: v.optional(v.undefined()), output: v.string() }, () => "pong"),
    feed: serverStream({ input: v.number(), output: v.number() }, async function* (count, ctx) {
      const from = ctx.lastEventId === undefined ? 0 : Number(ctx.lastEventId) + 1;
      for (let i = from; i < count; i++) {
        await sleep(2);
        yield tracked(String(i), i);
      }
    }),
  });

  async function typedServer(port = 0) {
    const server = new Server();
    const served = serve(routes, server);
    const listener = await listenOn(server, port);
    const close = async () => {
      await listener.close();
      await server.close({ timeout: 100 });
    };
    open.push(close);
    return { server, served, listener, close };
  }

  test("createClient works on a channel, and a subscription keeps receiving after a restart", async () => {
    const first = await typedServer();
    const client = channel([endpointFor(first.listener.port)], { readyTimeout: 5000 });
    const api = createClient<typeof routes>(client);
    const received: string[] = [];
    api.notice.subscribe((notice) => received.push(notice));
    expect(await api.ping()).toBe("pong");
    first.served.emit.notice("before");
    await until(() => received.length === 1, 3000, "first event");
    await first.close();
    const second = await typedServer(first.listener.port);
    expect(await api.ping()).toBe("pong");
    second.served.emit.notice("after");
    await until(() => received.length === 2, 3000, "event after the restart");
    expect(received).toEqual(["before", "after"]);
  });

  test.skipIf(!overTcp)("a tracked server stream resumes after its connection drops: every item once, in order", async () => {
    const server = await typedServer();
    const proxy = await startProxy(server.listener.port, (client, upstream) => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
    open.push(async () => proxy.close());
    const client = channel([`tcp://127.0.0.1:${proxy.port}`], { readyTimeout: 5000 });
    const api = createClient<typeof routes>(client);
    const items: number[] = [];
    let cuts = 0;
    for await (const item of api.feed(200)) {
      items.push(item);
      if (item === 50 || item === 120) {
        cuts++;
        proxy.cut(); // both ends see the connection reset mid-stream
      }
    }
    expect(cuts).toBe(2);
    expect(items).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  test("an untracked stream is not resumed: the loop throws unavailable", async () => {
    const plain = router({
      count: serverStream({ input: v.number(), output: v.number() }, async function* (n) {
        for (let i = 0; i < n; i++) {
          await sleep(2);
          yield i;
        }
      }),
    });
    const server = new Server();
    serve(plain, server);
    const listener = await adapter.listen(server, { port: 0 });
    open.push(() => server.close({ timeout: 100 }));
    const client = channel([endpointFor(listener.port)]);
    const api = createClient<typeof plain>(client);
    const items: number[] = [];
    const error = await (async () => {
      for await (const item of api.count(100)) {
        items.push(item);
        if (item === 10) for (const c of server.connections) c.destroy();
      }
    })().catch((e) => e as RpcError);
    expect((error as RpcError).code).toBe("unavailable");
    expect(items.length).toBeLessThan(100);
  });
});

describe("edge cases", () => {
  test("a breaker's probe that is cancelled is given back: the next call probes, and the breaker closes", async () => {
    let failing = true;
    const f = await running("F", (server) => server.handle(7, async (request) => {
      if (failing) throw new RpcError("internal", "broken");
      await sleep(Number(str(request.payload)));
      return text("ok");
    }));
    const client = channel([f.url], { breaker: { minCalls: 2, failureRatio: 0.5, openFor: 100 } });
    for (let i = 0; i < 2; i++) await client.request(7, text("0")).catch(() => {});
    expect(client.endpoints[0].breaker).toBe("open");
    failing = false;
    await sleep(150); // half-open: one probe
    const abort = new AbortController();
    const probe = failure(client.request(7, text("200"), { signal: abort.signal }));
    await sleep(20);
    abort.abort();
    expect((await probe).code).toBe("cancelled");
    expect(await nameOf(client.request(7, text("0")))).toBe("ok");
    expect(client.endpoints[0].breaker).toBe("closed");
  });

  test("a call whose signal has already aborted is refused at once, connected or not; nothing runs", async () => {
    const a = await running("A");
    const client = channel([a.url]);
    const aborted = AbortSignal.abort();
    expect((await failure(client.request(1, undefined, { signal: aborted }))).code).toBe("cancelled");
    await client.ready();
    expect((await failure(client.request(1, undefined, { signal: aborted }))).code).toBe("cancelled");
    expect(a.ran.get(1)).toBeUndefined();
  });

  test("a request stream that waited, whose reply fails and is never read, raises no unhandled rejection", async () => {
    const a = await running("A", (server) => server.handle(4, () => {
      throw new RpcError("invalid_argument", "no");
    }));
    const client = channel([a.url]);
    const call = client.call(4, { nonBlocking: true });
    await call.end(text("x")).catch(() => {});
    await sleep(50); // an unhandled rejection would fail the test run here
    expect((await failure(call.response)).code).toBe("invalid_argument");
  });

  test("calls that timed out while retrying free their place among the waiting", async () => {
    const a = await running("A", (server) => server.handle(3, async () => {
      await sleep(10_000);
      return text("late");
    }));
    const client = channel([a.url], { maxWaitingCalls: 2, readyTimeout: 10_000 });
    const slow = [failure(client.request(3, undefined, { idempotent: true, timeout: 300 })), failure(client.request(3, undefined, { idempotent: true, timeout: 300 }))];
    await sleep(50);
    await a.listener.close();
    for (const c of a.server.connections) c.destroy(); // both retry, and wait: nothing is listening
    for (const error of await Promise.all(slow)) expect(error.code).toBe("deadline_exceeded");
    const fresh = await failure(client.request(1, undefined, { timeout: 100 }));
    expect(fresh.code).toBe("deadline_exceeded"); // it waited: not "2 calls are already waiting"
  });

  test("rateLimit: a call one bucket refuses costs the other nothing", async () => {
    const routes = router({ p: unary({ input: v.number(), output: v.number() }, (n) => n) });
    const server = new Server();
    serve(routes, server, { middleware: [rateLimit({ perConnection: { rate: 1 }, perProcedure: { rate: 10 } })] });
    const listener = await adapter.listen(server, { port: 0 });
    open.push(() => server.close({ timeout: 100 }));
    const noisy = createClient<typeof routes>(channel([endpointFor(listener.port)], { retry: false }));
    const quiet = createClient<typeof routes>(channel([endpointFor(listener.port)], { retry: false }));
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => noisy.p(i)));
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(1);
    expect(await quiet.p(42)).toBe(42); // 9 refusals did not spend the procedure's tokens
  });

  test.skipIf(!overTcp)("a resumed stream goes through the client middleware again (its auth too)", async () => {
    const seen: (string | undefined)[] = [];
    const routes = router({
      feed: serverStream({ input: v.number(), output: v.number() }, async function* (count, ctx) {
        seen.push(ctx.metadata.authorization as string | undefined);
        const from = ctx.lastEventId === undefined ? 0 : Number(ctx.lastEventId) + 1;
        for (let i = from; i < count; i++) {
          await sleep(2);
          yield tracked(String(i), i);
        }
      }),
    });
    const server = new Server();
    serve(routes, server);
    const listener = await adapter.listen(server, { port: 0 });
    open.push(() => server.close({ timeout: 100 }));
    const proxy = await startProxy(listener.port, (client, upstream) => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
    open.push(async () => proxy.close());
    const api = createClient<typeof routes>(channel([`tcp://127.0.0.1:${proxy.port}`]), {
      middleware: [(call, next) => next({ ...call, options: { ...call.options, metadata: { ...call.options.metadata, authorization: "token" } } })],
    });
    const items: number[] = [];
    for await (const n of api.feed(40)) {
      items.push(n);
      if (n === 10) proxy.cut();
    }
    expect(items).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(seen).toEqual(["token", "token"]);
  });

  test("an endpoints function that fails once is asked again when a call finds no endpoint", async () => {
    const a = await running("A");
    let asked = 0;
    const fromRegistry = createChannel(() => {
      asked++;
      if (asked === 1) throw new Error("registry down");
      return [a.url];
    }, { reconnect: FAST_RECONNECT, readyTimeout: 3000, onError: () => {} });
    open.push(() => fromRegistry.close({ timeout: 100 }));
    await sleep(20);
    expect(await nameOf(fromRegistry.request(1))).toBe("A");
    expect(asked).toBeGreaterThanOrEqual(2);
  });
});
