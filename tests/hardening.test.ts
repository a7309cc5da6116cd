/**
 * Hostile and careless peers, over real TCP, against a weft server: what one connection
 * may cost the server is bounded, and nothing reaches the application before it should.
 * The memory rows run the server in a child process on the runtime under test and read its
 * resident size from /proc, so the client's own buffers do not count.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as net from "node:net";
import { readFileSync } from "node:fs";
import { Server } from "../mod.ts";
import { concat, frame, sleep, str, text } from "./support/bytes.ts";
import { type ChildServer, startChildServer } from "./support/child_server.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { adapter, runtime } from "./support/runtime.ts";
import { Cmd } from "./fixtures/handlers.ts";
import * as v from "valibot";
import { createClient, event, router, serve } from "../src/typed/mod.ts";

const MiB = 1024 * 1024;
/** What one connection may add to the server's resident memory in these probes. */
const GROWTH_LIMIT = 64 * MiB;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** weft's handshake sent blind: a request with the hello bit, then SETTINGS (no heartbeat). */
function blindHandshake(): Uint8Array {
  const settings = text(JSON.stringify({ version: 1, heartbeat: 0, maxFrameSize: 10 * MiB }));
  return concat(frame(3, 0x48, Cmd.Echo), frame(0, 0x80, 2, settings));
}

/** A raw client that shows weft and sends SETTINGS without waiting for anything back. */
async function blindWeftClient(port: number): Promise<RawSocket> {
  const raw = await RawSocket.connect(port);
  raw.write(blindHandshake());
  return raw;
}


/** A TCP client that never reads: it writes `chunk` until `total` bytes or until the server stops taking them. */
async function floodWithoutReading(
  port: number,
  chunks: () => Uint8Array,
  total: number,
  prelude?: Uint8Array,
): Promise<{ socket: net.Socket; written: number; stalled: boolean }> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.pause(); // never reads: replies pile up on the server's side
  socket.on("error", () => {});
  if (prelude) socket.write(prelude);
  let written = 0;
  while (written < total) {
    const chunk = chunks();
    written += chunk.length;
    if (socket.write(chunk)) continue;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => socket.once("drain", () => resolve(true))),
      sleep(1500).then(() => false),
    ]);
    if (!drained) return { socket, written, stalled: true };
  }
  return { socket, written, stalled: false };
}

/** `count` frames back to back in one buffer. */
function repeated(one: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) out.set(one, i * one.length);
  return out;
}

describe("bounded per connection (server in a child process)", () => {
  let child: ChildServer;
  beforeAll(async () => {
    child = await startChildServer(runtime);
  });
  afterAll(() => child.stop());

  /** Floods the child server without reading: it must stop reading, its RSS grow under GROWTH_LIMIT. */
  async function expectBoundedFlood(chunks: () => Uint8Array, total: number, prelude?: Uint8Array): Promise<number> {
    const before = rssOf(child.pid);
    const flood = await floodWithoutReading(child.port, chunks, total, prelude);
    await sleep(300);
    const growth = rssOf(child.pid) - before;
    flood.socket.destroy();
    expect(flood.stalled).toBe(true);
    expect(growth).toBeLessThan(GROWTH_LIMIT);
    return flood.written;
  }

  test("a client that sends requests and never reads replies: the server stops reading it; memory stays bounded", async () => {
    // 64 KiB echoes, NonBlock: without a bound, every reply waits in the server's memory.
    const payload = new Uint8Array(64 * 1024).fill(7);
    let id = 1;
    const written = await expectBoundedFlood(() => frame((id += 2), 0x08, Cmd.Echo, payload), 512 * MiB);
    expect(written).toBeLessThan(256 * MiB);
  }, 30_000);

  test("3 M empty requests, never reading: reading pauses; memory stays bounded", async () => {
    const batch = repeated(frame(3, 0x08, Cmd.Echo), 10_000); // ids repeat: each is answered and done
    await expectBoundedFlood(() => batch, 3_000_000 * 16);
  }, 30_000);

  test("300 MiB of PINGs after the handshake, never reading the PONGs: reading pauses; memory stays bounded", async () => {
    const pings = repeated(frame(0, 0x80, 3, new Uint8Array(8)), 40_000);
    await expectBoundedFlood(() => pings, 300 * MiB, blindHandshake());
  }, 30_000);
});

describe("handshake and admission", () => {
  test("PINGs before the handshake get no PONG; a plain client's 0x80 frame is a request (unknown cmd 3 here: closed)", async () => {
    const server = new Server();
    server.handle(Cmd.Echo, (req) => req.payload);
    const listener = await adapter.listen(server, { port: 0 });
    const raw = await RawSocket.connect(listener.port);
    raw.write(frame(0, 0x80, 3, new Uint8Array(8))); // id 0: even, a reply to nothing on a server; dropped
    raw.write(frame(5, 0x80, 3, new Uint8Array(8))); // odd: a plain request to cmd 3
    const reset = await raw.readFrame();
    expect([reset[12], reset[15]]).toEqual([0x04, 12]);
    expect(await raw.waitClosed()).toBe(true);
    await server.close({ timeout: 100 });
  });

  test("connection metadata over maxMetadataSize in SETTINGS: refused with resource_exhausted", async () => {
    const server = new Server({ maxMetadataSize: 1024 });
    server.handle(Cmd.Echo, (req) => req.payload);
    const listener = await adapter.listen(server, { port: 0 });
    const client = await adapter.connect({ port: listener.port, metadata: { token: "x".repeat(64 * 1024) } });
    const error = await client.request(Cmd.Echo, text("hi")).then(() => null, (e) => e);
    expect(error?.code).toBe("resource_exhausted");
    expect(String(error?.message)).toContain("maxMetadataSize");
    await client.closed;
    await server.close({ timeout: 100 });
  });

  test("pushes from a client whose authentication is pending, then refused, never reach the push handler", async () => {
    let pushes = 0;
    const server = new Server({
      authenticate: async () => {
        await sleep(200);
        throw new Error("no");
      },
    });
    server.onPush(() => pushes++);
    const listener = await adapter.listen(server, { port: 0 });
    const raw = await blindWeftClient(listener.port);
    for (let i = 0; i < 500; i++) raw.write(frame(1 + 2 * i, 0x10, 7, text("p")));
    await sleep(300); // refused by now; these arrive after the refusal
    for (let i = 500; i < 1000; i++) raw.write(frame(1 + 2 * i, 0x10, 7, text("p")));
    expect(await raw.waitClosed()).toBe(true);
    expect(pushes).toBe(0);
    await server.close({ timeout: 100 });
  });

  test("a refused client that does not read, whose ERROR cannot get out: its later pushes still never arrive", async () => {
    let pushes = 0;
    const server = new Server({
      authenticate: async () => {
        await sleep(300);
        throw new Error("no");
      },
    });
    server.onPush(() => pushes++);
    const listener = await adapter.listen(server, { port: 0 });
    // Blind handshake, then PINGs whose PONGs it never reads: the server's writes back up, so
    // the refusal's ERROR and close cannot finish while the client keeps sending.
    const pings = repeated(frame(0, 0x80, 3, new Uint8Array(8)), 20_000);
    const flood = await floodWithoutReading(listener.port, () => pings, 24 * MiB, blindHandshake());
    await sleep(400); // refused by now
    const push = repeated(frame(5, 0x10, 7, text("p")), 1000);
    flood.socket.write(push);
    await sleep(300);
    expect(pushes).toBe(0);
    flood.socket.destroy();
    await server.close({ timeout: 100 });
  }, 30_000);

  test("pushes held while authentication is pending arrive once it accepts", async () => {
    let pushes = 0;
    const server = new Server({ authenticate: () => sleep(100) });
    server.onPush(() => pushes++);
    const listener = await adapter.listen(server, { port: 0 });
    const raw = await blindWeftClient(listener.port);
    for (let i = 0; i < 100; i++) raw.write(frame(1 + 2 * i, 0x10, 7, text("p")));
    await sleep(50);
    expect(pushes).toBe(0);
    const deadline = Date.now() + 3000;
    while (pushes < 100 && Date.now() < deadline) await sleep(20);
    expect(pushes).toBe(100);
    raw.close();
    await server.close({ timeout: 100 });
  });

  test("with authenticate, a client that never completes the handshake is closed after handshakeTimeout", async () => {
    const server = new Server({ authenticate: () => {}, handshakeTimeout: 200 });
    const listener = await adapter.listen(server, { port: 0 });
    const silent = await RawSocket.connect(listener.port);
    const greeted = await RawSocket.connect(listener.port);
    greeted.write(frame(3, 0x40, Cmd.Echo)); // shows weft, never sends SETTINGS
    const started = performance.now();
    expect(await silent.waitClosed(3000)).toBe(true);
    expect(await greeted.waitClosed(3000)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    const hello = await greeted.readFrame();
    expect(hello[12]).toBe(0x80);
    const error = await greeted.readFrame(); // ERROR (opcode 6): why
    expect([error[12], error[15]]).toEqual([0x80, 6]);
    expect(str(error.subarray(16))).toContain("not authenticated");
    await server.close({ timeout: 100 });
  });
});

describe("connection caps", () => {
  test("maxConnectionsPerAddress: the next weft client is refused with resource_exhausted and why; a slot freed admits again", async () => {
    const errors: unknown[] = [];
    const server = new Server({ maxConnectionsPerAddress: 2, onError: (error) => errors.push(error) });
    server.handle(Cmd.Echo, (req) => req.payload);
    const listener = await adapter.listen(server, { port: 0 });
    const first = await adapter.connect({ port: listener.port });
    const second = await adapter.connect({ port: listener.port });
    expect(str((await first.request(Cmd.Echo, text("1"))).payload)).toBe("1");
    expect(str((await second.request(Cmd.Echo, text("2"))).payload)).toBe("2");
    const third = await adapter.connect({ port: listener.port });
    const error = await third.request(Cmd.Echo, text("3")).then(() => null, (e) => e);
    expect(error?.code).toBe("resource_exhausted");
    expect(String(error?.message)).toContain("limit of 2 connections from 127.0.0.1");
    expect(await third.closed).toBeDefined();
    expect(server.connections.size).toBe(2);
    await first.close();
    const deadline = Date.now() + 2000;
    while (server.connections.size > 1 && Date.now() < deadline) await sleep(10);
    const fourth = await adapter.connect({ port: listener.port });
    expect(str((await fourth.request(Cmd.Echo, text("4"))).payload)).toBe("4");
    expect(errors.some((e) => String(e).includes("limit of 2"))).toBe(true);
    second.destroy();
    fourth.destroy();
    await server.close({ timeout: 100 });
  });

  test("maxConnections: a plain qrpc client over the cap is closed; the admitted one is untouched", async () => {
    const server = new Server({ maxConnections: 1 });
    server.handle(Cmd.Echo, (req) => req.payload);
    const listener = await adapter.listen(server, { port: 0 });
    const admitted = await adapter.connect({ port: listener.port });
    expect(str((await admitted.request(Cmd.Echo, text("a"))).payload)).toBe("a");
    const raw = await RawSocket.connect(listener.port);
    raw.write(frame(3, 0, Cmd.Echo, text("b")));
    const reset = await raw.readFrame(); // refused (a plain client cannot read why), then closed
    expect(reset[12]).toBe(0x04);
    expect(await raw.waitClosed()).toBe(true);
    expect(str((await admitted.request(Cmd.Echo, text("c"))).payload)).toBe("c");
    admitted.destroy();
    await server.close({ timeout: 100 });
  });

  test("caps must be whole numbers >= 1", () => {
    expect(() => new Server({ maxConnections: 0 })).toThrow(TypeError);
    expect(() => new Server({ maxConnectionsPerAddress: 1.5 })).toThrow(TypeError);
  });
});

describe("slow consumers of broadcasts", () => {
  /** A TCP client that shows weft and then never reads. */
  async function stuckClient(port: number): Promise<net.Socket> {
    const socket = net.connect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    socket.pause();
    socket.on("error", () => {});
    socket.write(blindHandshake());
    return socket;
  }

  async function broadcastWhileOneIsStuck(policy: "close" | "drop-newest" | "drop-oldest") {
    const server = new Server({ slowConsumers: { maxBytes: 256 * 1024, policy } });
    server.handle(Cmd.Echo, (req) => req.payload);
    const listener = await adapter.listen(server, { port: 0 });
    const stuck = await stuckClient(listener.port);
    let received = 0;
    const fast = await adapter.connect({ port: listener.port });
    fast.onPush(() => received++);
    await fast.request(Cmd.Echo, text("hi")); // both connections are live
    while (server.connections.size < 2) await sleep(5);
    const payload = new Uint8Array(4096).fill(1);
    const events = 4000; // 16 MiB to each client, far past the stuck one's socket buffers
    const heapBefore = heapUsed();
    for (let i = 0; i < events; i++) {
      server.pushAll(Cmd.Notice, payload);
      if (i % 50 === 49) await sleep(0); // in turns, so the fast client reads along
    }
    const deadline = Date.now() + 10_000;
    while (received < events && Date.now() < deadline) await sleep(10);
    const result = { received, stats: { ...server.broadcastStats }, heapGrowth: heapUsed() - heapBefore, server, stuck, fast };
    return result;
  }

  const heapUsed = (): number => (globalThis as { process?: { memoryUsage(): { heapUsed: number } } }).process!.memoryUsage().heapUsed;

  test("policy close: the stuck client is closed with resource_exhausted; the fast one gets every push", async () => {
    const r = await broadcastWhileOneIsStuck("close");
    expect(r.received).toBe(4000);
    expect(r.stats.closed).toBe(1);
    expect(r.server.connections.size).toBe(1);
    r.stuck.destroy();
    r.fast.destroy();
    await r.server.close({ timeout: 100 });
  }, 30_000);

  test("policy drop-newest: pushes to the stuck client are dropped and counted; memory stays bounded", async () => {
    const r = await broadcastWhileOneIsStuck("drop-newest");
    expect(r.received).toBe(4000);
    expect(r.stats.dropped).toBeGreaterThan(1000);
    expect(r.heapGrowth).toBeLessThan(GROWTH_LIMIT);
    r.stuck.destroy();
    r.fast.destroy();
    await r.server.close({ timeout: 100 });
  }, 30_000);

  test("policy drop-oldest: a bounded queue for the stuck client, oldest dropped; memory stays bounded", async () => {
    const r = await broadcastWhileOneIsStuck("drop-oldest");
    expect(r.received).toBe(4000);
    expect(r.stats.dropped).toBeGreaterThan(1000);
    expect(r.stats.queued).toBeLessThanOrEqual(256 * 1024 / 4096);
    expect(r.heapGrowth).toBeLessThan(GROWTH_LIMIT);
    r.stuck.destroy();
    r.fast.destroy();
    await r.server.close({ timeout: 100 });
  }, 30_000);
});

describe("slow consumers of typed events", () => {
  test("emit goes through the same policy: the stuck client is closed, a fast subscriber gets every event", async () => {
    const events = router({ tick: event(v.object({ n: v.number(), pad: v.string() })) });
    const server = new Server({ slowConsumers: { maxBytes: 256 * 1024, policy: "close" } });
    server.handle(Cmd.Echo, (req) => req.payload);
    const served = serve(events, server);
    const listener = await adapter.listen(server, { port: 0 });
    const stuck = net.connect({ port: listener.port, host: "127.0.0.1" });
    stuck.on("error", () => {});
    await new Promise<void>((resolve) => stuck.once("connect", resolve));
    stuck.pause();
    stuck.write(frame(3, 0x48, Cmd.Echo)); // a live connection that never reads
    const connection = await adapter.connect({ port: listener.port, codec: "json" });
    const api = createClient<typeof events>(connection);
    let received = 0;
    api.tick.subscribe(() => received++);
    while (server.connections.size < 2) await sleep(5);
    const pad = "x".repeat(4000);
    for (let n = 0; n < 4000; n++) {
      served.emit.tick({ n, pad });
      if (n % 50 === 49) await sleep(0);
    }
    const deadline = Date.now() + 10_000;
    while (received < 4000 && Date.now() < deadline) await sleep(10);
    expect(received).toBe(4000);
    expect(server.broadcastStats.closed).toBe(1);
    stuck.destroy();
    connection.destroy();
    await server.close({ timeout: 100 });
  }, 30_000);
});

describe("rate per connection", () => {
  test("maxFramesPerSecond paces a connection that sends too fast; another connection is untouched", async () => {
    const server = new Server({ maxFramesPerSecond: 2000 });
    server.handle(Cmd.Echo, (req) => req.payload);
    const listener = await adapter.listen(server, { port: 0 });
    const busy = await adapter.connect({ port: listener.port });
    const other = await adapter.connect({ port: listener.port });
    await Promise.all([busy.request(Cmd.Echo), other.request(Cmd.Echo)]);
    const started = performance.now();
    const calls = Array.from({ length: 6000 }, () => busy.request(Cmd.Echo, text("x"), { nonBlocking: true }));
    await sleep(200);
    const quick = performance.now();
    await other.request(Cmd.Echo, text("me first"));
    const otherMs = performance.now() - quick;
    await Promise.all(calls); // all served, none refused
    const busyMs = performance.now() - started;
    // 6000 frames at 2000/s with a second's burst: about 2 s; unpaced, this takes ~50 ms.
    expect(busyMs).toBeGreaterThan(1500);
    expect(otherMs).toBeLessThan(busyMs / 3);
    busy.destroy();
    other.destroy();
    await server.close({ timeout: 100 });
  }, 20_000);

  test("rates must be positive", () => {
    expect(() => new Server({ maxBytesPerSecond: 0 }).accept({ readable: new ReadableStream<Uint8Array>(), writable: new WritableStream<Uint8Array>() })).toThrow(TypeError);
  });
});

describe("liveness before the first call", () => {
  test("greetEagerly: heartbeats run from the start, so a server gone before any call is noticed within 4 intervals", async () => {
    const { startFreezableProxy } = await import("./support/freezable_proxy.ts");
    const server = new Server({ heartbeatInterval: 100 });
    const listener = await adapter.listen(server, { port: 0 });
    const proxy = await startFreezableProxy(listener.port);
    const client = await adapter.connect({ port: proxy.port, heartbeatInterval: 100, greetEagerly: true });
    const deadline = Date.now() + 3000;
    // Both ends must have agreed (the client's SETTINGS reached the server) before the freeze.
    const serverSide = () => [...server.connections][0];
    while ((client.protocolVersion === 0 || serverSide()?.protocolVersion !== 1) && Date.now() < deadline) await sleep(5);
    expect(client.protocolVersion).toBe(1); // negotiated with no call made
    expect(serverSide()?.protocolVersion).toBe(1);
    proxy.freeze(); // gone, with no FIN or RST to say so
    const started = Date.now();
    const cause = await client.closed;
    expect(String(cause?.message)).toContain("heartbeat");
    expect(Date.now() - started).toBeLessThan(4 * 100 + 500);
    while (server.connections.size > 0 && Date.now() < started + 2000) await sleep(10);
    expect(server.connections.size).toBe(0); // the server noticed too
    proxy.close();
    await server.close({ timeout: 100 });
  });

  test("greetEagerly with authenticate: admitted before any call, and calls then run at once", async () => {
    const admitted: string[] = [];
    const server = new Server({ authenticate: (metadata) => void admitted.push(metadata.user) });
    server.handle(Cmd.Echo, (req) => req.payload);
    const listener = await adapter.listen(server, { port: 0 });
    const client = await adapter.connect({ port: listener.port, greetEagerly: true, metadata: { user: "ann" } });
    const deadline = Date.now() + 3000;
    while (admitted.length === 0 && Date.now() < deadline) await sleep(5);
    expect(admitted).toEqual(["ann"]);
    expect(str((await client.request(Cmd.Echo, text("hi"))).payload)).toBe("hi");
    await client.close();
    await server.close({ timeout: 100 });
  });
});
