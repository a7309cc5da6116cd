/**
 * Bad input of every kind ends with a clear error for the right party, and loses nothing
 * else: other calls and other connections go on.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ProtocolError, RpcError } from "../mod.ts";
import { Cmd, installHandlers } from "./fixtures/handlers.ts";
import { hex, patterned, readU32, sleep, str, text, u32, until } from "./support/bytes.ts";
import { type Pair, startPair } from "./support/harness.ts";
import { fakePeer, freePort } from "./support/fake_peer.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { adapter, overTcp } from "./support/runtime.ts";

let pair: Pair;
const serverErrors: unknown[] = [];

beforeAll(async () => {
  pair = await startPair((server) => installHandlers(server), {
    server: { onError: (error) => serverErrors.push(error), maxConcurrentRequests: 50 },
  });
});
afterAll(() => pair.close());

/** The connection everyone else uses still works. */
async function bystanderStillWorks(): Promise<void> {
  const reply = await pair.client.request(Cmd.Hello, text("still here"));
  expect(str(reply.payload)).toBe("hello world still here");
}

describe("garbage on the wire", () => {
  test("garbage bytes close that connection with a ProtocolError; others go on", async () => {
    const before = serverErrors.length;
    const raw = await RawSocket.connect(pair.listener.port);
    raw.write(text("GET / HTTP/1.1\r\nHost: example\r\n\r\n"));
    expect(await raw.waitClosed(3000)).toBe(true);
    await until(() => serverErrors.length > before, 2000, "server error report");
    const error = serverErrors[serverErrors.length - 1];
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toContain("frame too large");
    await bystanderStillWorks();
  });

  test("a length field below 12 closes that connection", async () => {
    const before = serverErrors.length;
    const raw = await RawSocket.connect(pair.listener.port);
    raw.write(hex("00000004 00000001"));
    expect(await raw.waitClosed(3000)).toBe(true);
    await until(() => serverErrors.length > before, 2000, "server error report");
    expect((serverErrors[serverErrors.length - 1] as Error).message).toContain("below the minimum of 12");
    await bystanderStillWorks();
  });

  test("a frame over the size limit closes that connection before its payload arrives", async () => {
    const raw = await RawSocket.connect(pair.listener.port);
    // Claims 10 MiB + 1 of frame; only the header is ever sent.
    raw.write(hex("00a0000d 0000000000000003 00 000002"));
    expect(await raw.waitClosed(3000)).toBe(true);
    await bystanderStillWorks();
  });

  test.skipIf(!overTcp)("a server that sends garbage fails every pending call on that client with a clear error", async () => {
    const evil = await fakePeer((socket) => socket.on("data", () => socket.write(new Uint8Array(64).fill(0xff))));
    const errors: unknown[] = [];
    const client = await adapter.connect({ port: evil.port, onError: (error) => errors.push(error) });
    const error = await client.request(Cmd.Echo, text("x"), { timeout: 3000 }).catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain("frame too large");
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(await client.closed).toBeInstanceOf(ProtocolError);
    evil.close();
    await bystanderStillWorks();
  });

  test("a client's own frame limit applies to replies (qrpc's client has none)", async () => {
    const small = await adapter.connect({ port: pair.listener.port, maxFrameSize: 1024 });
    const error = await small.request(Cmd.Echo, patterned(1000)).then(
      () => small.request(Cmd.Count, u32(1)).then(() => small.request(2, new Uint8Array(2000))),
    ).catch((e) => e);
    // The request itself is over the limit: refused locally, before anything is sent.
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain("exceeds the frame limit");
    pair.server.handle(30, () => patterned(5000));
    const tooBig = await small.request(30).catch((e) => e);
    expect(tooBig.code).toBe("unavailable");
    expect(tooBig.message).toContain("exceeds the limit of 1024 bytes");
    await bystanderStillWorks();
  });
});

describe("unknown cmd and handler failures", () => {
  test("an unknown cmd fails that call alone with unimplemented; the connection lives on", async () => {
    const inflight = pair.client.request(Cmd.Count, u32(3), { nonBlocking: true });
    const error = await pair.client.request(0x42, text("?")).catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("unimplemented");
    expect(error.message).toContain("no such cmd");
    expect(error.message).toContain("66");
    const got: number[] = [];
    for await (const chunk of await inflight) got.push(readU32(chunk));
    expect(got).toEqual([0, 1, 2]);
    await bystanderStillWorks();
  });

  test("an unknown cmd on a stream fails the stream alone, late frames are dropped", async () => {
    const call = pair.client.call(0x43);
    await call.send(text("a"));
    await expect(call.response).rejects.toThrow("no such cmd");
    await expect(call.send(text("b"))).rejects.toThrow(RpcError);
    await bystanderStillWorks();
  });

  test("a handler that throws fails its call with internal, nothing else", async () => {
    const before = serverErrors.length;
    const [failed, fine] = await Promise.allSettled([
      pair.client.request(Cmd.Fail, text("x"), { nonBlocking: true }),
      pair.client.request(Cmd.Echo, text("y"), { nonBlocking: true }),
    ]);
    expect(failed.status).toBe("rejected");
    expect((failed as PromiseRejectedResult).reason.code).toBe("internal");
    // The stack stays on the server: the wire carries only the code.
    expect((failed as PromiseRejectedResult).reason.message).not.toContain("boom");
    expect(fine.status).toBe("fulfilled");
    await until(() => serverErrors.length > before, 2000, "the handler error to be reported");
    expect((serverErrors[serverErrors.length - 1] as Error).message).toBe("boom");
  });

  test("a handler returning an unusable value fails with internal and a clear server-side error", async () => {
    pair.server.handle(31, () => ({ nonsense: true }) as never);
    const before = serverErrors.length;
    const error = await pair.client.request(31).catch((e) => e);
    expect(error.code).toBe("internal");
    await until(() => serverErrors.length > before, 2000, "error report");
    expect((serverErrors[serverErrors.length - 1] as Error).message).toContain("unusable reply");
  });

  test("a reply stream yielding a non-byte value fails with internal", async () => {
    pair.server.handle(32, async function* () {
      yield "not bytes" as unknown as Uint8Array;
    });
    const error = await (async () => {
      for await (const _ of await pair.client.request(32)) { /* drain */ }
    })().catch((e) => e);
    expect(error.code).toBe("internal");
  });

  test("more requests in flight than allowed are refused with resource_exhausted", async () => {
    const hung = Array.from({ length: 60 }, (_, i) =>
      pair.client.request(Cmd.Hang, text(`flood-${i}`), { nonBlocking: true, timeout: 400 }).catch((e) => e));
    const results = await Promise.all(hung);
    const codes = results.map((r) => r.code);
    expect(codes.filter((c) => c === "resource_exhausted").length).toBe(10);
    expect(codes.filter((c) => c === "deadline_exceeded").length).toBe(50);
    await until(() => pair.serverSide.inFlight.requests === 0, 2000, "handlers to be aborted");
    await bystanderStillWorks();
  });
});

describe("invalid arguments", () => {
  test("bad cmds and payloads are refused locally with invalid_argument", async () => {
    for (const cmd of [-1, 0x1000000, 1.5, Number.NaN]) {
      const error = await pair.client.request(cmd, text("x")).catch((e) => e);
      expect(error).toBeInstanceOf(RpcError);
      expect(error.code).toBe("invalid_argument");
    }
    const notBytes = await pair.client.request(Cmd.Echo, "text" as unknown as Uint8Array).catch((e) => e);
    expect(notBytes.code).toBe("invalid_argument");
    expect(notBytes.message).toContain("Uint8Array");
    const tooBig = await pair.client.request(Cmd.Echo, new Uint8Array(10 * 1024 * 1024)).catch((e) => e);
    expect(tooBig.code).toBe("invalid_argument");
    expect(() => pair.client.push(-5)).toThrow(RpcError);
    expect(() => pair.server.handle(70000, () => {})).toThrow(RangeError);
    expect(pair.client.inFlight.calls).toBe(0);
    await bystanderStillWorks();
  });

  test("connecting to a port with no server fails with unavailable", async () => {
    const port = await freePort();
    const error = await adapter.connect({ port }).catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });
});

describe("a peer that vanishes", () => {
  test("the client vanishing mid-stream aborts the handler; the server serves on", async () => {
    let aborted = false;
    let started = false;
    pair.server.handle(33, async function* (req) {
      started = true;
      req.signal.addEventListener("abort", () => (aborted = true));
      for (let i = 0; i < 100_000 && !req.signal.aborted; i++) {
        yield u32(i);
        await sleep(1);
      }
    });
    const doomed = await pair.connect();
    const reply = await doomed.request(33);
    await reply.stream!.next();
    expect(started).toBe(true);
    doomed.destroy();
    await until(() => aborted, 3000, "handler abort on disconnect");
    await bystanderStillWorks();
  });

  test.skipIf(!overTcp)("the server vanishing rejects every pending call at once with unavailable", async () => {
    const silent = await fakePeer();
    const sockets = silent.sockets;
    const client = await adapter.connect({ port: silent.port });
    const calls = Array.from({ length: 20 }, (_, i) => client.request(Cmd.Echo, u32(i)).catch((e) => e));
    const stream = client.call(Cmd.Sum);
    await stream.send(text("part"));
    await until(() => sockets.length === 1, 2000, "accept");
    await sleep(20);
    const start = Date.now();
    sockets[0].destroy();
    const errors = await Promise.all(calls);
    expect(Date.now() - start).toBeLessThan(2000);
    for (const error of errors) {
      expect(error).toBeInstanceOf(RpcError);
      expect(error.code).toBe("unavailable");
    }
    await expect(stream.response).rejects.toThrow(RpcError);
    await expect(stream.send(text("more"))).rejects.toThrow(RpcError);
    await expect(client.request(Cmd.Echo)).rejects.toThrow("connection");
    silent.close();
  });

  test("the server vanishing mid-stream errors the client's iteration", async () => {
    const { Server } = await import("../mod.ts");
    const server = new Server();
    server.handle(1, async function* () {
      yield text("first");
      await sleep(10_000);
    });
    const listener = await adapter.listen(server, { port: 0 });
    const client = await adapter.connect({ port: listener.port });
    const reply = await client.request(1);
    const iterator = reply[Symbol.asyncIterator]();
    expect(str((await iterator.next()).value)).toBe("first");
    await listener.close();
    for (const connection of server.connections) connection.destroy();
    const error = await iterator.next().catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("unavailable");
  });
});

describe("graceful close", () => {
  test("close() lets in-flight calls finish, refuses new ones, then closes", async () => {
    const { Server } = await import("../mod.ts");
    const server = new Server();
    server.handle(1, async (req) => {
      await sleep(80);
      return req.payload;
    });
    const listener = await adapter.listen(server, { port: 0 });
    const client = await adapter.connect({ port: listener.port });
    const inflight = client.request(1, text("finish me"), { nonBlocking: true });
    await until(() => [...server.connections].some((c) => c.inFlight.requests === 1), 2000, "request to arrive");
    const closing = server.close({ timeout: 2000 });
    await sleep(10);
    // New work on the closing server's side is refused with unavailable.
    const late = await client.request(1, text("too late"), { nonBlocking: true }).catch((e) => e);
    expect(late.code).toBe("unavailable");
    expect(str((await inflight).payload)).toBe("finish me");
    await closing;
    expect(server.connections.size).toBe(0);
    const error = await client.closed.then(() => client.request(1)).catch((e) => e);
    expect(error.code).toBe("unavailable");
    // The listener is closed too: nobody new gets in.
    expect((await adapter.connect({ port: listener.port, connectTimeout: 1000 }).catch((e) => e)).code).toBe("unavailable");
  });

  test("close() with a timeout fails what is still running and aborts its handlers", async () => {
    const { Server } = await import("../mod.ts");
    const server = new Server();
    const log = installHandlers(server);
    const listener = await adapter.listen(server, { port: 0 });
    const client = await adapter.connect({ port: listener.port });
    const stuck = client.request(Cmd.Hang, text("stuck"), { nonBlocking: true }).catch((e) => e);
    await until(() => [...server.connections].some((c) => c.inFlight.requests === 1), 2000, "request to arrive");
    await server.close({ timeout: 50 });
    expect(log.aborted).toEqual(["stuck"]);
    const error = await stuck;
    expect(error.code).toBe("unavailable");
    void listener;
  });

  test("a client's close() waits for its own pending calls", async () => {
    pair.server.handle(34, async () => {
      await sleep(50);
      return text("done");
    });
    const client = await pair.connect();
    const pending = client.request(34);
    await client.close({ timeout: 2000 });
    expect(str((await pending).payload)).toBe("done");
    await expect(client.request(Cmd.Echo)).rejects.toThrow("closed");
  });
});
