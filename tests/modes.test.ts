/** Every qrpc mode, over real TCP on 127.0.0.1, through the adapter of the runtime under test. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Flags, type PushMessage, RpcError } from "../mod.ts";
import { Cmd, type HandlerLog, installHandlers } from "./fixtures/handlers.ts";
import { patterned, readU32, sameBytes, sleep, str, text, u32, until } from "./support/bytes.ts";
import { type Pair, startPair } from "./support/harness.ts";

let pair: Pair;
let log: HandlerLog;

beforeAll(async () => {
  pair = await startPair((server) => {
    log = installHandlers(server);
  });
  pair.client.handle(Cmd.ClientConfirm, (req) => text(`yes to ${str(req.payload)}`));
});
afterAll(() => pair.close());

describe("unary", () => {
  test("the golden exchange: reply on the handler's cmd, same id", async () => {
    const reply = await pair.client.request(Cmd.Hello, text("xu"));
    expect(reply.cmd).toBe(Cmd.HelloReply);
    expect(str(reply.payload)).toBe("hello world xu");
    expect(reply.stream).toBeNull();
  });

  test("an empty request and an empty reply", async () => {
    const reply = await pair.client.request(Cmd.Echo);
    expect(reply.payload.length).toBe(0);
    const pushed = await pair.client.request(Cmd.PushBack, new Uint8Array(0));
    expect(pushed.payload.length).toBe(0);
  });

  test("10,000 concurrent calls on one connection all get their own reply", async () => {
    const calls = Array.from({ length: 10_000 }, (_, i) => pair.client.request(Cmd.Echo, u32(i), { nonBlocking: i % 2 === 0 }));
    const replies = await Promise.all(calls);
    for (let i = 0; i < replies.length; i++) expect(readU32(replies[i].payload)).toBe(i);
  });

  test("large payloads of several MiB travel intact both ways", async () => {
    const payload = patterned(7 * 1024 * 1024 + 13, 42);
    const reply = await pair.client.request(Cmd.Echo, payload);
    expect(reply.payload.length).toBe(payload.length);
    expect(sameBytes(reply.payload, payload)).toBe(true);
  });
});

describe("blocking and non-blocking", () => {
  test("blocking requests run one at a time, in order; non-blocking ones overlap", async () => {
    const events: string[] = [];
    let running = 0;
    let maxRunning = 0;
    pair.server.handle(20, async (req) => {
      const name = str(req.payload);
      running++;
      maxRunning = Math.max(maxRunning, running);
      events.push(`start ${name}`);
      await sleep(name === "a" ? 30 : 5);
      events.push(`end ${name}`);
      running--;
      return req.payload;
    });
    await Promise.all(["a", "b", "c"].map((name) => pair.client.request(20, text(name))));
    expect(events).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    expect(maxRunning).toBe(1);

    maxRunning = 0;
    await Promise.all(["a", "b", "c"].map((name) => pair.client.request(20, text(name), { nonBlocking: true })));
    expect(maxRunning).toBe(3);
  });

  test("a blocking handler that calls back into its client does not deadlock", async () => {
    const reply = await pair.client.request(Cmd.AskClient, text("deploy"), { timeout: 3000 });
    expect(str(reply.payload)).toBe("client said: yes to deploy");
  });

  test("the next blocking request waits for a slow one, other traffic does not", async () => {
    pair.server.handle(21, async () => {
      await sleep(100);
      return text("slow");
    });
    const slow = pair.client.request(21);
    const queued = pair.client.request(Cmd.Echo, text("queued"));
    const concurrent = await pair.client.request(Cmd.Echo, text("nb"), { nonBlocking: true });
    expect(str(concurrent.payload)).toBe("nb");
    const order: string[] = [];
    await Promise.all([slow.then(() => order.push("slow")), queued.then(() => order.push("queued"))]);
    expect(order).toEqual(["slow", "queued"]);
  });
});

describe("streams", () => {
  test("server streaming, walked with for await", async () => {
    const reply = await pair.client.request(Cmd.Count, u32(100));
    expect(reply.stream).not.toBeNull();
    const got: number[] = [];
    for await (const chunk of reply) got.push(readU32(chunk));
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  test("server streaming, piped as a ReadableStream", async () => {
    const reply = await pair.client.request(Cmd.Count, u32(5));
    const got: number[] = [];
    await reply.readable.pipeTo(new WritableStream({ write: (chunk) => void got.push(readU32(chunk)) }));
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  test("client streaming with send/end, and with a piped WritableStream", async () => {
    const call = pair.client.call(Cmd.Sum);
    await call.send(new Uint8Array(10));
    await call.send(new Uint8Array(20));
    await call.end(new Uint8Array(5));
    const reply = await call.response;
    expect([readU32(reply.payload), readU32(reply.payload, 4)]).toEqual([35, 3]);

    const piped = pair.client.call(Cmd.Sum);
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const n of [1, 2, 3]) controller.enqueue(new Uint8Array(n));
        controller.close();
      },
    });
    await source.pipeTo(piped.writable);
    const total = await piped.response;
    expect([readU32(total.payload), readU32(total.payload, 4)]).toEqual([6, 3]);
  });

  test("an empty request stream (end without send) is a one-frame stream", async () => {
    const call = pair.client.call(Cmd.Sum);
    await call.end();
    const reply = await call.response;
    expect([readU32(reply.payload), readU32(reply.payload, 4)]).toEqual([0, 0]);
  });

  test("bidirectional: replies stream back while the request still streams", async () => {
    const call = pair.client.call(Cmd.Bidi, { nonBlocking: true });
    await call.send(text("one"));
    const reply = await call.response;
    const iterator = reply[Symbol.asyncIterator]();
    expect(str((await iterator.next()).value)).toBe("one"); // answered before the request ended
    await call.send(text("two"));
    expect(str((await iterator.next()).value)).toBe("two");
    await call.end(text("three"));
    expect(str((await iterator.next()).value)).toBe("three");
    expect((await iterator.next()).done).toBe(true);
  });

  test("half-close: the server keeps streaming after the client's half ended", async () => {
    pair.server.handle(22, async function* (req) {
      const received: string[] = [];
      for await (const chunk of req.stream) received.push(str(chunk));
      for (const item of received) {
        await sleep(2);
        yield text(item.toUpperCase());
      }
    });
    const call = pair.client.call(22);
    await call.send(text("a"));
    await call.end(text("b"));
    const got: string[] = [];
    for await (const chunk of call) got.push(str(chunk));
    expect(got).toEqual(["A", "B"]);
  });

  test("a handler that stops reading early still replies; the caller's later sends fail", async () => {
    pair.server.handle(23, async (req) => {
      for await (const chunk of req.stream) return text(`first: ${str(chunk)}`);
      return text("none");
    });
    const call = pair.client.call(23, { nonBlocking: true });
    await call.send(text("x"));
    expect(str((await call.response).payload)).toBe("first: x");
    await until(() => pair.client.inFlight.calls === 0, 2000, "the call to be released");
    await expect(call.send(text("y"))).rejects.toThrow(RpcError);
  });
});

describe("cancellation and resets", () => {
  test("aborting a call's signal resets it: the caller gets cancelled, the handler's signal aborts", async () => {
    const controller = new AbortController();
    const pending = pair.client.request(Cmd.Hang, text("by-signal"), { signal: controller.signal, nonBlocking: true });
    await sleep(20);
    controller.abort(new Error("user gave up"));
    const error = await pending.catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("cancelled");
    await until(() => log.aborted.includes("by-signal"), 2000, "handler abort");
  });

  test("a call with an already aborted signal fails at once and sends nothing", async () => {
    const error = await pair.client.request(Cmd.Echo, text("x"), { signal: AbortSignal.abort() }).catch((e) => e);
    expect(error.code).toBe("cancelled");
    expect(pair.client.inFlight.calls).toBe(0);
  });

  test("a timeout fails the call with deadline_exceeded and aborts the handler", async () => {
    const error = await pair.client.request(Cmd.Hang, text("by-timeout"), { timeout: 50, nonBlocking: true }).catch((e) => e);
    expect(error.code).toBe("deadline_exceeded");
    expect(error.message).toContain("timed out after 50 ms");
    await until(() => log.aborted.includes("by-timeout"), 2000, "handler abort");
  });

  test("breaking out of a server stream resets it and stops the producer", async () => {
    let produced = 0;
    let stopped = false;
    pair.server.handle(24, async function* (req) {
      try {
        for (let i = 0; i < 1_000_000 && !req.signal.aborted; i++) {
          produced++;
          yield u32(i);
          await sleep(1);
        }
      } finally {
        stopped = true;
      }
    });
    const reply = await pair.client.request(24);
    let seen = 0;
    for await (const _ of reply) if (++seen === 3) break;
    await until(() => stopped, 3000, "the generator to stop");
    expect(produced).toBeLessThan(1000);
  });

  test("cancelling a client stream aborts the handler reading it", async () => {
    let handlerError: unknown = null;
    pair.server.handle(25, async (req) => {
      try {
        for await (const _ of req.stream) { /* keep reading */ }
      } catch (error) {
        handlerError = error;
      }
    });
    const call = pair.client.call(25);
    await call.send(text("a"));
    await sleep(20);
    call.cancel();
    await expect(call.response).rejects.toThrow("cancelled");
    await until(() => handlerError !== null, 2000, "handler to see the reset");
    expect((handlerError as RpcError).code).toBe("cancelled");
  });

  test("a reset from the handler side rejects the pending call (qrpc's client would hang)", async () => {
    const error = await pair.client.request(Cmd.Fail, text("x"), { timeout: 3000 }).catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("internal");
    expect(error.message).toBe("internal error"); // a weft peer's words; the throw's own stay on the server
  });

  test("an RpcError thrown by a handler keeps its code on the wire", async () => {
    const error = await pair.client.request(Cmd.Deny, text("bob")).catch((e) => e);
    expect(error.code).toBe("permission_denied");
  });

  test("a reply stream that fails midway errors the caller's iteration after the good items", async () => {
    pair.server.handle(26, async function* () {
      yield text("ok");
      throw new Error("disk on fire");
    });
    const got: string[] = [];
    const error = await (async () => {
      for await (const chunk of await pair.client.request(26)) got.push(str(chunk));
    })().catch((e) => e);
    expect(got).toEqual(["ok"]);
    expect(error.code).toBe("internal");
  });
});

describe("push", () => {
  test("the server pushes to one connection", async () => {
    const received: PushMessage[] = [];
    pair.client.onPush((message) => received.push(message));
    await pair.client.request(Cmd.PushBack, text("just you"));
    await until(() => received.length === 1, 2000, "push");
    expect(received[0].cmd).toBe(Cmd.Notice);
    expect(str(received[0].payload)).toBe("just you");
    expect(received[0].flags & Flags.Push).toBe(Flags.Push);
    pair.client.onPush(null);
  });

  test("the server pushes to all connections", async () => {
    const others = await Promise.all([pair.connect(), pair.connect()]);
    const inboxes = [pair.client, ...others].map((connection) => {
      const inbox: string[] = [];
      connection.onPush((message) => inbox.push(str(message.payload)));
      return inbox;
    });
    await until(() => pair.server.connections.size >= 3, 2000, "connections");
    const sent = pair.server.pushAll(Cmd.Notice, text("everyone"));
    expect(sent).toBeGreaterThanOrEqual(3);
    await until(() => inboxes.every((inbox) => inbox.length === 1), 2000, "pushes");
    expect(inboxes.flat()).toEqual(["everyone", "everyone", "everyone"]);
    for (const other of others) await other.close();
    pair.client.onPush(null);
  });

  test("a client pushes to the server", async () => {
    const received: string[] = [];
    pair.server.onPush((message) => received.push(`${message.cmd}:${str(message.payload)}`));
    pair.client.push(77, text("telemetry"));
    await until(() => received.length === 1, 2000, "push");
    expect(received).toEqual(["77:telemetry"]);
    pair.server.onPush(null);
  });
});

describe("server calls client", () => {
  test("the server calls a client handler over the same connection", async () => {
    const reply = await pair.serverSide.request(Cmd.ClientConfirm, text("restart?"));
    expect(str(reply.payload)).toBe("yes to restart?");
  });

  test("a server call to a cmd the client lacks fails alone", async () => {
    const error = await pair.serverSide.request(4242, text("?")).catch((e) => e);
    expect(error.code).toBe("unimplemented");
    expect(str((await pair.client.request(Cmd.Echo, text("still fine"))).payload)).toBe("still fine");
  });

  test("the server streams to a client handler and reads its streamed reply", async () => {
    pair.client.handle(101, (req) => req.stream);
    const call = pair.serverSide.call(101);
    await call.send(text("ping"));
    await call.end();
    const got: string[] = [];
    for await (const chunk of call) got.push(str(chunk));
    expect(got).toEqual(["ping"]);
  });
});

describe("connections", () => {
  test("each side knows the other's address", async () => {
    const clientAddress = pair.client.remoteAddress;
    expect(clientAddress).toBe(`127.0.0.1:${pair.listener.port}`);
    const serverView = pair.serverSide.remoteAddress ?? "";
    expect(serverView.startsWith("127.0.0.1:")).toBe(true);
    expect(serverView).not.toBe(`127.0.0.1:${pair.listener.port}`); // the client's ephemeral port
  });
});
