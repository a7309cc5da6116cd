/**
 * Typed procedures on qrpc's frames, byte for byte: a call by name as a capturing peer
 * sees it, procedures pinned to a cmd called with raw frames (JSON and another codec, all
 * four shapes), events by name and pinned events as each kind of peer receives them, and
 * a typed client with a contract calling a plain qrpc peer.
 */
import { afterEach, describe, expect, test } from "bun:test";
import * as net from "node:net";
import * as v from "valibot";
import { type Connection, encodeFrame, FrameDecoder, type PushMessage } from "../mod.ts";
import { msgpack } from "../src/codec/codec.ts";
import { bidi, clientStream, createClient, event, router, serverStream, tracked, unary } from "../src/typed/mod.ts";
import { concat, frame, readU32, str, text, toHex, until } from "./support/bytes.ts";
import { startQrpcPeer } from "./support/qrpc_peer.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { rawWeftClient } from "./support/raw_weft.ts";
import { adapter, overTcp } from "./support/runtime.ts";
import { cleanup, closeLater, collect, negotiated, typedPair, within } from "./support/typed.ts";

afterEach(cleanup);

const NAME_CMD = 0xffff;
const EVENT_CMD = 0xfffe;
const PUSH = 0x10;

const prefix = (name: string) => concat(new Uint8Array([new TextEncoder().encode(name).length]), text(name));

function parse(bytes: Uint8Array) {
  return { id: readU32(bytes, 8), flags: bytes[12], cmd: readU32(bytes, 12) & 0xffffff, payload: bytes.subarray(16) };
}

// ---- a call by name, as the peer receives it -------------------------------------------

interface Captured {
  id: number;
  flags: number;
  cmd: number;
  payload: Uint8Array;
  bytes: Uint8Array;
}

/** A peer that records every frame it receives (whole, as bytes) and lets the test answer. */
async function capturingPeer(answer: (frame: Captured, socket: net.Socket) => void) {
  const frames: Captured[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on("data", (chunk: Uint8Array) => {
      decoder.decode(new Uint8Array(chunk), (id, flags, cmd, payload) => {
        const bytes = encodeFrame({ id, flags, cmd, payload: payload.slice() });
        const captured = { id: Number(id), flags, cmd, payload: payload.slice(), bytes };
        frames.push(captured);
        answer(captured, socket);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return closeLater({
    port: (server.address() as net.AddressInfo).port,
    frames,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  });
}

const helloContract = router({
  hello: unary({ input: v.object({ name: v.string() }), output: v.string() }),
  sum: clientStream({ input: v.number(), output: v.number() }),
});

describe("a call by name on the wire", () => {
  test.skipIf(!overTcp)("unary: cmd 0xFFFF, payload = length byte, name, JSON input; a plain JSON reply is the output", async () => {
    const peer = await capturingPeer((f, socket) => {
      socket.write(encodeFrame({ id: BigInt(f.id), flags: 0, cmd: NAME_CMD, payload: text('"hello bob"') }));
    });
    const connection = closeLater(await adapter.connect({ port: peer.port, weft: false }));
    const api = createClient<typeof helloContract>(connection);
    expect(await within(api.hello({ name: "bob" }), 2000, "hello")).toBe("hello bob");
    expect(peer.frames.length).toBe(1);
    const sent = peer.frames[0];
    const payload = concat(new Uint8Array([5]), text("hello"), text('{"name":"bob"}'));
    // 16-byte header: length, id, flags (NonBlock), cmd 0x00ffff; then the payload.
    expect(toHex(sent.bytes)).toBe(toHex(frame(sent.id, 0x08, NAME_CMD, payload)));
    expect(toHex(sent.bytes.subarray(0, 4))).toBe("00000020");
    expect(toHex(sent.bytes.subarray(12, 16))).toBe("0800ffff");
    expect(toHex(payload)).toBe("0568656c6c6f" + toHex(text('{"name":"bob"}')));
    connection.destroy();
    peer.close();
  });

  test.skipIf(!overTcp)("a request stream: the name alone opens it, each item is a frame, an empty frame ends it", async () => {
    const peer = await capturingPeer((f, socket) => {
      if ((f.flags & 0x02) !== 0) socket.write(encodeFrame({ id: BigInt(f.id), flags: 0, cmd: NAME_CMD, payload: text("6") }));
    });
    const connection = closeLater(await adapter.connect({ port: peer.port, weft: false }));
    const api = createClient<typeof helloContract>(connection);
    expect(await within(api.sum((async function* () {
      yield 1;
      yield 2;
      yield 3;
    })()), 2000, "sum")).toBe(6);
    const id = peer.frames[0].id;
    expect(peer.frames.map((f) => toHex(f.bytes))).toEqual([
      toHex(frame(id, 0x09, NAME_CMD, prefix("sum"))), // Stream | NonBlock (the request's flag, on its first frame)
      toHex(frame(id, 0x01, NAME_CMD, text("1"))), // Stream
      toHex(frame(id, 0x01, NAME_CMD, text("2"))),
      toHex(frame(id, 0x01, NAME_CMD, text("3"))),
      toHex(frame(id, 0x03, NAME_CMD)), // Stream | StreamEnd, empty
    ]);
    connection.destroy();
    peer.close();
  });
});

describe("a tracked reply stream on the wire", () => {
  const feedRoutes = router({
    feed: serverStream({ input: v.number(), output: v.number() }, async function* (count) {
      for (let i = 0; i < count; i++) yield tracked(String(i), i);
    }),
  });

  // The server learns a client speaks weft from its greeting, and agrees a version only once
  // the client's SETTINGS arrive, a round trip later; a stream that starts in between must
  // already carry its ids, or a client could not resume it (this once flaked under load).
  test.skipIf(!overTcp)("to a client that greeted but has not sent SETTINGS yet, the first frame already says it is tracked", async () => {
    const t = await typedPair(feedRoutes);
    const raw = closeLater(await RawSocket.connect(t.listener.port));
    // The greeting (hello bit 0x40) on the call itself, NonBlock, by name; no SETTINGS follows.
    raw.write(frame(3, 0x40 | 0x08, NAME_CMD, concat(prefix("feed"), text("2"))));
    const hello = parse(await raw.readFrame());
    expect(hello.id).toBe(0); // HELLO comes first
    const first = parse(await raw.readFrame());
    expect(first.id).toBe(3);
    expect(str(first.payload)).toContain("weft-tracked"); // the reply's metadata block
    raw.close();
    await t.close();
  });
});

describe("an empty frame in a stream carries no item", () => {
  test.skipIf(!overTcp)("in a reply stream: the typed client yields only the non-empty frames", async () => {
    const peer = await capturingPeer((f, socket) => {
      const id = BigInt(f.id);
      for (const [flags, payload] of [[0x01, "1"], [0x01, ""], [0x01, "2"], [0x01, ""], [0x03, ""]] as const) {
        socket.write(encodeFrame({ id, flags, cmd: NAME_CMD, payload: text(payload) }));
      }
    });
    const connection = closeLater(await adapter.connect({ port: peer.port, weft: false }));
    const contract = router({ numbers: serverStream({ input: v.number(), output: v.number() }) });
    expect(await collect(createClient<typeof contract>(connection).numbers(2))).toEqual([1, 2]);
    expect(toHex(peer.frames[0].payload)).toBe(toHex(concat(prefix("numbers"), text("2"))));
  });

  test("in a request stream: the handler sees only the non-empty frames", async () => {
    const t = await typedPair(router({
      items: clientStream({ input: v.number(), output: v.array(v.number()) }, async (inputs) => {
        const out: number[] = [];
        for await (const n of inputs) out.push(n);
        return out;
      }),
    }));
    const raw = closeLater(await RawSocket.connect(t.listener.port));
    raw.write(frame(3, 0x01, NAME_CMD, prefix("items")));
    raw.write(frame(3, 0x01, NAME_CMD));
    raw.write(frame(3, 0x01, NAME_CMD, text("7")));
    raw.write(frame(3, 0x01, NAME_CMD));
    raw.write(frame(3, 0x03, NAME_CMD, text("8")));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0, NAME_CMD, text("[7,8]"))));
    await t.close();
  });
});

// ---- procedures pinned to a cmd ---------------------------------------------------------

const cmdsSeen: { path: string; cmd: number }[] = [];

const pinned = router({
  add: unary({ input: v.object({ a: v.number(), b: v.number() }), output: v.number(), cmd: 7 }, ({ a, b }, ctx) => {
    cmdsSeen.push({ path: ctx.path, cmd: ctx.request.cmd });
    return a + b;
  }),
  pack: unary(
    { input: v.object({ bytes: v.instance(Uint8Array) }), output: v.object({ size: v.number(), bytes: v.instance(Uint8Array) }), cmd: 8, codec: msgpack },
    ({ bytes }) => ({ size: bytes.length, bytes: bytes.slice().reverse() }),
  ),
  range: serverStream({ input: v.number(), output: v.number(), cmd: 9 }, async function* (n) {
    for (let i = 0; i < n; i++) yield i * 10;
  }),
  total: clientStream({ input: v.number(), output: v.number(), cmd: 10 }, async (inputs) => {
    let sum = 0;
    for await (const n of inputs) sum += n;
    return sum;
  }),
  negate: bidi({ input: v.number(), output: v.number(), cmd: 11 }, async function* (inputs) {
    for await (const n of inputs) yield -n;
  }),
  byName: unary({ input: v.string(), output: v.string() }, (s) => `by name: ${s}`),
  alert: event(v.object({ level: v.string() }), { cmd: 60 }),
  blob: event(v.object({ bytes: v.instance(Uint8Array) }), { cmd: 61, codec: msgpack }),
  notice: event(v.string()),
});

describe("a procedure pinned to a cmd, called with raw frames", () => {
  test("unary on cmd 7: plain JSON in, plain JSON out on cmd 7, no name", async () => {
    const t = await typedPair(pinned);
    cmdsSeen.length = 0;
    const raw = closeLater(await RawSocket.connect(t.listener.port));
    raw.write(frame(3, 0, 7, text('{"a":2,"b":3}')));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0, 7, text("5"))));
    expect(cmdsSeen).toEqual([{ path: "add", cmd: 7 }]);
    // Validated as a call by name is: a bad input is reset with invalid_argument (3). A plain
    // qrpc caller cannot read a reset, so its connection then closes.
    raw.write(frame(5, 0, 7, text('{"a":"2","b":3}')));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(5, 0x04, 3)));
    expect(await raw.waitClosed()).toBe(true);
    const again = closeLater(await RawSocket.connect(t.listener.port));
    again.write(frame(7, 0, 7, text("not json")));
    expect(toHex(await again.readFrame())).toBe(toHex(frame(7, 0x04, 3)));
    again.close();
    await t.close();
  });

  test("the pinned cmd's own codec (msgpack) regardless of the connection's", async () => {
    const t = await typedPair(pinned);
    const raw = closeLater(await RawSocket.connect(t.listener.port));
    raw.write(frame(3, 0, 8, msgpack.encode({ bytes: new Uint8Array([1, 2, 3]) })));
    const reply = parse(await raw.readFrame());
    expect([reply.id, reply.flags, reply.cmd]).toEqual([3, 0, 8]);
    expect(toHex(reply.payload)).toBe(toHex(msgpack.encode({ size: 3, bytes: new Uint8Array([3, 2, 1]) })));
    raw.close();
    await t.close();
  });

  test("server stream on cmd 9: Stream frames of plain JSON, then an empty StreamEnd", async () => {
    const t = await typedPair(pinned);
    const raw = closeLater(await RawSocket.connect(t.listener.port));
    raw.write(frame(3, 0, 9, text("3")));
    const frames = [await raw.readFrame(), await raw.readFrame(), await raw.readFrame(), await raw.readFrame()];
    expect(frames.map(toHex)).toEqual([
      toHex(frame(3, 0x01, 9, text("0"))),
      toHex(frame(3, 0x01, 9, text("10"))),
      toHex(frame(3, 0x01, 9, text("20"))),
      toHex(frame(3, 0x03, 9)),
    ]);
    raw.close();
    await t.close();
  });

  test("client stream on cmd 10: each Stream frame an item (no name frame), one reply", async () => {
    const t = await typedPair(pinned);
    const raw = closeLater(await RawSocket.connect(t.listener.port));
    raw.write(frame(3, 0x01, 10, text("4")));
    raw.write(frame(3, 0x01, 10, text("5")));
    raw.write(frame(3, 0x03, 10, text("6"))); // the last item rides on the StreamEnd frame
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0, 10, text("15"))));
    raw.close();
    await t.close();
  });

  test("bidi on cmd 11: a reply per item while the request stream is open", async () => {
    const t = await typedPair(pinned);
    const raw = closeLater(await RawSocket.connect(t.listener.port));
    raw.write(frame(3, 0x01, 11, text("1")));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0x01, 11, text("-1"))));
    raw.write(frame(3, 0x01, 11, text("2")));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0x01, 11, text("-2"))));
    raw.write(frame(3, 0x03, 11));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0x03, 11)));
    raw.close();
    await t.close();
  });

  test("a weft client calls pinned procedures by name, or on their cmd when it has the contract", async () => {
    const t = await typedPair(pinned);
    cmdsSeen.length = 0;
    expect(await t.api.add({ a: 1, b: 1 })).toBe(2);
    const withContract = createClient(t.client, { contract: pinned });
    expect(await withContract.add({ a: 2, b: 2 })).toBe(4);
    expect(cmdsSeen).toEqual([{ path: "add", cmd: NAME_CMD }, { path: "add", cmd: 7 }]);
    // All four shapes through their pinned cmds, and an unpinned one by name alongside.
    const packed = await withContract.pack({ bytes: new Uint8Array([9, 8]) });
    expect([packed.size, [...packed.bytes]]).toEqual([2, [8, 9]]);
    expect(await collect(withContract.range(2))).toEqual([0, 10]);
    expect(await withContract.total((async function* () {
      yield 1;
      yield 2;
    })())).toBe(3);
    expect(await collect(withContract.negate((async function* () {
      yield 5;
    })()))).toEqual([-5]);
    expect(await withContract.byName("x")).toBe("by name: x");
    await t.close();
  });
});

describe("a typed client with a contract, against a plain qrpc peer", () => {
  test.skipIf(!overTcp)("calls the peer's cmd with a plain JSON payload and reads its plain reply", async () => {
    const qrpc = closeLater(await startQrpcPeer()); // cmd 2 echoes its payload
    const contract = router({
      echo: unary({ input: v.object({ say: v.string(), n: v.number() }), output: v.object({ say: v.string(), n: v.number() }), cmd: 2 }),
    });
    const connection = closeLater(await adapter.connect({ port: qrpc.port }));
    const api = createClient(connection, { contract });
    expect(await within(api.echo({ say: "hi", n: 1 }, { timeout: 2000 }), 2000, "echo")).toEqual({ say: "hi", n: 1 });
    expect(await within(api.echo({ say: "again", n: 2 }, { timeout: 2000 }), 2000, "echo")).toEqual({ say: "again", n: 2 });
    expect(qrpc.unknownCmdClosures).toBe(0);
    expect(qrpc.seen.map((f) => [f.cmd & 0xffff, str(f.payload)])).toEqual([
      [2, '{"say":"hi","n":1}'],
      [2, '{"say":"again","n":2}'],
    ]);
    connection.destroy();
    qrpc.close();
  });
});

// ---- events on the wire -----------------------------------------------------------------

function serverSideOf(connections: ReadonlySet<Connection>, pick: (c: Connection) => boolean): Connection | undefined {
  return [...connections].find(pick);
}

describe("events on the wire", () => {
  test("to a plain qrpc peer, a pinned event is a push on its cmd with a plain JSON payload", async () => {
    const t = await typedPair(pinned);
    const raw = closeLater(await RawSocket.connect(t.listener.port)); // never shows weft
    await until(() => t.server.connections.size === 2, 2000, "raw connection");
    const rawSide = serverSideOf(t.server.connections, (c) => c !== t.serverSide)!;
    expect(rawSide.protocolVersion).toBe(0);
    expect(t.served.emitTo(rawSide).alert({ level: "high" })).toBe(1);
    const pushed = parse(await raw.readFrame());
    expect([pushed.flags, pushed.cmd, str(pushed.payload)]).toEqual([PUSH, 60, '{"level":"high"}']);
    // An event that is not pinned still goes by name, even to a plain peer.
    t.served.emitTo(rawSide).notice("plain");
    const byName = parse(await raw.readFrame());
    expect([byName.flags, byName.cmd, toHex(byName.payload)]).toEqual([PUSH, EVENT_CMD, toHex(concat(prefix("notice"), text('"plain"')))]);
    raw.close();
    await t.close();
  });

  test("to a weft peer, a pinned event goes on 0xFFFE with its name", async () => {
    const t = await typedPair(pinned);
    const { raw } = await rawWeftClient(t.listener.port);
    closeLater(raw);
    await until(() => serverSideOf(t.server.connections, (c) => c.protocolVersion === 1) !== undefined, 2000, "handshake");
    const weftSide = serverSideOf(t.server.connections, (c) => c.protocolVersion === 1)!;
    t.served.emitTo(weftSide).alert({ level: "low" });
    const pushed = parse(await raw.readFrame());
    expect([pushed.flags, pushed.cmd]).toEqual([PUSH, EVENT_CMD]);
    expect(toHex(pushed.payload)).toBe(toHex(concat(prefix("alert"), text('{"level":"low"}'))));
    raw.close();
    await t.close();
  });

  test("one emit, two kinds of peer: each typed client gets the event in its own form", async () => {
    const t = await typedPair(pinned);
    await t.api.byName("handshake"); // the weft client has shown weft
    const plain = await t.connect({ weft: false });
    await until(() => t.server.connections.size === 2 && t.serverSide.protocolVersion === 1, 2000, "both connected");
    const weftGot: unknown[] = [];
    const plainGot: unknown[] = [];
    const rawPushes: number[] = [];
    t.api.alert.subscribe((alert) => weftGot.push(alert));
    plain.onPush((message: PushMessage) => rawPushes.push(message.cmd));
    // The plain connection's subscriber needs the contract: it is how it knows cmd 60 is "alert".
    createClient(plain, { contract: pinned }).alert.subscribe((alert) => plainGot.push(alert));
    expect(t.served.emit.alert({ level: "both" })).toBe(2);
    await until(() => weftGot.length === 1 && plainGot.length === 1, 2000, "both to receive");
    expect(weftGot).toEqual([{ level: "both" }]);
    expect(plainGot).toEqual([{ level: "both" }]);
    expect(rawPushes).toEqual([]); // the typed hub took cmd 60; nothing fell through
    await t.close();
  });

  // Before a weft client's first call the server cannot tell it from a plain qrpc peer
  // (weft shows itself on ordinary traffic only, §13), so a pinned event goes out on its
  // cmd. A client that has the contract maps that cmd back to the event; one typed from
  // the router's type alone gets pinned events by name once its first call is through.
  test("before a client's first call, a pinned event goes on its cmd: a client with the contract gets it", async () => {
    const t = await typedPair(pinned, { clientOptions: { contract: pinned } });
    const got: unknown[] = [];
    t.api.alert.subscribe((alert) => got.push(alert));
    expect(t.serverSide.protocolVersion).toBe(0);
    t.served.emit.alert({ level: "early" });
    await until(() => got.length === 1, 1000, "the pinned event on its cmd");
    expect(got).toEqual([{ level: "early" }]);
    await t.close();
  });

  test("a pinned event with its own codec is read with that codec on its cmd", async () => {
    const t = await typedPair(pinned, { clientOptions: { contract: pinned } });
    const got: unknown[] = [];
    t.api.blob.subscribe((blob) => got.push(blob));
    t.served.emit.blob({ bytes: new Uint8Array([1, 2, 3]) });
    await until(() => got.length === 1, 1000, "the pinned msgpack event");
    expect(got).toEqual([{ bytes: new Uint8Array([1, 2, 3]) }]);
    await t.close();
  });

  test("a client typed from the router's type alone gets a pinned event by name once it has called", async () => {
    const t = await typedPair(pinned);
    const got: unknown[] = [];
    t.api.alert.subscribe((alert) => got.push(alert));
    expect(await t.api.add({ a: 1, b: 2 })).toBe(3);
    await negotiated(t);
    t.served.emit.alert({ level: "later" });
    await until(() => got.length === 1, 1000, "the pinned event by name");
    expect(got).toEqual([{ level: "later" }]);
    await t.close();
  });
});
