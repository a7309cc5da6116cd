/**
 * Byte-level: hand-built bytes go to a weft server's socket and its raw reply is read
 * back, so the encoder is never checked only against its own decoder.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Connection, Server } from "../mod.ts";
import { Cmd, type HandlerLog, installHandlers } from "./fixtures/handlers.ts";
import { hex, str, text, toHex, until } from "./support/bytes.ts";
import { fakePeer } from "./support/fake_peer.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { rawWeftClient } from "./support/raw_weft.ts";
import { adapter, overTcp } from "./support/runtime.ts";

let server: Server;
let port: number;
let log: HandlerLog;
const accepted: Connection[] = [];

beforeAll(async () => {
  server = new Server({ onConnection: (c) => accepted.push(c) });
  log = installHandlers(server);
  port = (await adapter.listen(server, { port: 0 })).port;
});
afterAll(() => server.close({ timeout: 100 }));

async function rawClient(): Promise<RawSocket> {
  return await RawSocket.connect(port);
}

describe("wire bytes", () => {
  test("the golden exchange from qrpc", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000e 0000000000000001 00 000000 7875"));
    expect(toHex(await raw.readFrame())).toBe(
      toHex(hex("0000001a 0000000000000001 00 000001 68656c6c6f20776f726c64207875")),
    );
    raw.close();
  });

  test("a request split byte by byte, then three requests in one write", async () => {
    const raw = await rawClient();
    const request = hex("0000000e 0000000000000003 00 000000 7875");
    for (const byte of request) raw.write(new Uint8Array([byte]));
    expect(toHex(await raw.readFrame())).toBe("0000001a000000000000000300000001" + toHex(text("hello world xu")));
    raw.write(hex(
      "0000000d 0000000000000005 00 000002 61" +
        "0000000d 0000000000000007 00 000002 62" +
        "0000000d 0000000000000009 00 000002 63",
    ));
    const replies = [await raw.readFrame(), await raw.readFrame(), await raw.readFrame()].map(toHex);
    expect(replies).toEqual([
      "0000000d00000000000000050000000261",
      "0000000d00000000000000070000000262",
      "0000000d00000000000000090000000263",
    ]);
    raw.close();
  });

  test("ids are echoed exactly, including past 2^53", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000d fedcba9876543211 00 000002 7a"));
    expect(toHex(await raw.readFrame())).toBe("0000000dfedcba9876543211000000027a");
    raw.close();
  });

  test("0x40 on a request is weft's hello: served as usual, after a HELLO control frame", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000e 0000000000000003 40 000000 7875"));
    expect(toHex((await raw.readFrame()).subarray(4, 16))).toBe("000000000000000080000001"); // HELLO
    expect(toHex(await raw.readFrame()).slice(8, 40)).toBe("00000000000000030000000168656c6c"); // id 3, cmd 1
    raw.close();
  });

  test("a control frame (0x80) with an opcode weft does not know is ignored", async () => {
    const { raw } = await rawWeftClient(port);
    raw.write(hex("0000000c 0000000000000000 80 000077"));
    raw.write(hex("0000000e 0000000000000005 00 000000 7875"));
    expect(toHex(await raw.readFrame()).slice(8, 40)).toBe("00000000000000050000000168656c6c");
    raw.close();
  });

  test("before a client shows weft, 0x80 is an unused bit as in qrpc: the request is served", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000e 0000000000000003 80 000000 7875"));
    expect(toHex(await raw.readFrame())).toBe("0000001a000000000000000300000001" + toHex(text("hello world xu")));
    raw.write(hex("0000000d 0000000000000005 88 000002 7a")); // 0x80 with NonBlock
    expect(toHex(await raw.readFrame())).toBe("0000000d0000000000000005000000027a");
    raw.close();
  });

  test("0xC0 from a client that never answers HELLO: served as plain qrpc once handshakeTimeout passes", async () => {
    const quick = new Server({ handshakeTimeout: 150 });
    installHandlers(quick);
    const listener = await adapter.listen(quick, { port: 0 });
    const raw = await RawSocket.connect(listener.port);
    const started = performance.now();
    raw.write(hex("0000000e 0000000000000003 c0 000000 7875")); // hello bit (greeted) + 0x80
    raw.write(hex("0000000d 0000000000000005 00 000002 7a")); // waits behind it, in order
    expect(toHex((await raw.readFrame()).subarray(4, 16))).toBe("000000000000000080000001"); // HELLO
    expect(toHex(await raw.readFrame())).toBe("0000001a000000000000000300000001" + toHex(text("hello world xu")));
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    expect(toHex(await raw.readFrame())).toBe("0000000d0000000000000005000000027a");
    // Taken for plain from here on: a reset carries no words, and nothing weft-only follows.
    raw.write(hex("0000000c 0000000000000007 00 000042"));
    expect(toHex(await raw.readFrame())).toBe("0000000c00000000000000070400000c");
    raw.close();
    await quick.close({ timeout: 100 });
  });

  test("an unknown cmd from a plain qrpc client: a reset (reason 12), then the connection closes, as qrpc's does", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000c 0000000000000005 00 000042"));
    // StreamRst (0x04), cmd = 12 (unimplemented), no payload: a weft client in qrpc mode reads it;
    // a qrpc client never fails a call on a reset, so only the close tells its caller.
    expect(toHex(await raw.readFrame())).toBe("0000000c00000000000000050400000c");
    expect(await raw.waitClosed()).toBe(true);
  });

  test("an unknown cmd from a weft client: a reset with reason 12, and the connection serves on", async () => {
    const { raw } = await rawWeftClient(port);
    raw.write(hex("0000000c 0000000000000005 00 000042"));
    const reset = await raw.readFrame();
    expect(toHex(reset.subarray(4, 16))).toBe("00000000000000050400000c");
    raw.write(hex("0000000e 0000000000000007 00 000000 7875"));
    expect(str((await raw.readFrame()).subarray(16))).toBe("hello world xu");
    raw.close();
  });

  test("only the low 16 bits of cmd route: the high byte is the application's", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000d 0000000000000003 00 ab0002 71")); // cmd 0xab0002 routes to Echo (2)
    expect(toHex(await raw.readFrame())).toBe("0000000d000000000000000300ab000271"); // reply keeps the cmd
    raw.close();
  });

  test("a streaming request: Stream frames, then StreamEnd; the reply comes after the end", async () => {
    const raw = await rawClient();
    raw.write(hex("00000010 0000000000000003 01 000004 61616161")); // Sum: "aaaa", Stream
    raw.write(hex("0000000e 0000000000000003 01 000004 6262")); // "bb", Stream
    expect(raw.pending).toBe(0);
    raw.write(hex("0000000d 0000000000000003 03 000004 63")); // "c", Stream|StreamEnd
    // Sum replies u32(7 bytes), u32(3 chunks), as a plain frame on the same id and cmd.
    expect(toHex(await raw.readFrame())).toBe("000000140000000000000003000000040000000700000003");
    raw.close();
  });

  test("a lone StreamEnd (0x02) is a one-frame stream", async () => {
    const raw = await rawClient();
    raw.write(hex("00000010 0000000000000003 02 000004 61626364"));
    expect(toHex(await raw.readFrame())).toBe("000000140000000000000003000000040000000400000001");
    raw.close();
  });

  test("a streamed reply: Stream frames, then an empty Stream|StreamEnd frame", async () => {
    const raw = await rawClient();
    raw.write(hex("00000010 0000000000000003 00 000003 00000002")); // Count 2
    expect(toHex(await raw.readFrame())).toBe("00000010000000000000000301000003" + "00000000");
    expect(toHex(await raw.readFrame())).toBe("00000010000000000000000301000003" + "00000001");
    expect(toHex(await raw.readFrame())).toBe("0000000c000000000000000303000003");
    raw.close();
  });

  test("a reset from the caller aborts the handler and nothing more is sent", async () => {
    const raw = await rawClient();
    raw.write(hex("00000012 0000000000000003 08 000008 726177726573")); // Hang "rawres", NonBlock
    await until(() => accepted.some((c) => c.inFlight.requests === 1), 2000, "request to arrive");
    raw.write(hex("0000000c 0000000000000003 04 000001")); // reset, reason 1 (cancelled)
    await until(() => log.aborted.includes("rawres"), 2000, "handler abort");
    // Nothing for id 3 follows; the next request is answered normally.
    raw.write(hex("0000000e 0000000000000005 00 000000 7875"));
    expect(toHex(await raw.readFrame()).slice(8, 24)).toBe("0000000000000005");
    raw.close();
  });

  test("a failing handler answers with a reset carrying reason 13 (internal)", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000c 0000000000000003 00 000007"));
    expect(toHex(await raw.readFrame())).toBe("0000000c00000000000000030400000d");
    raw.close();
  });

  test("pushes carry the Push flag and expect nothing back", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000f 0000000000000003 00 000009 686579")); // PushBack "hey"
    const push = await raw.readFrame();
    expect(push[12]).toBe(0x10);
    expect(toHex(push.subarray(13))).toBe("000032" + toHex(text("hey"))); // cmd 50
    expect(toHex(await raw.readFrame())).toBe("0000000c000000000000000300000009"); // the empty reply
    raw.close();
  });

  test("a server-initiated call has an even id and NonBlock; the client's reply completes it", async () => {
    const before = accepted.length;
    const raw = await rawClient();
    await until(() => accepted.length > before, 2000, "accept");
    const serverSide = accepted[accepted.length - 1];
    const pending = serverSide.request(100, text("ok?"));
    const call = await raw.readFrame();
    expect(toHex(call)).toBe("0000000f0000000000000002080000646f6b3f"); // id 2, NB, cmd 100, "ok?"
    raw.write(hex("0000000f 0000000000000002 00 000064 796573")); // "yes"
    expect(str((await pending).payload)).toBe("yes");
    const second = serverSide.request(100);
    expect(toHex((await raw.readFrame()).subarray(4, 12))).toBe("0000000000000004"); // next even id
    raw.write(hex("0000000c 0000000000000004 04 00000e")); // the client refuses: reason 14
    expect((await second.catch((e) => e)).code).toBe("unavailable");
    raw.close();
  });

  test.skipIf(!overTcp)("a weft client numbers its requests 3, 5, 7... like qrpc, with the hello bit until answered", async () => {
    const seen: string[] = [];
    const sink = await fakePeer((socket) => socket.on("data", (chunk: Uint8Array) => seen.push(toHex(chunk))));
    const client = await adapter.connect({ port: sink.port });
    client.request(0, text("xu")).catch(() => {});
    client.request(2, new Uint8Array(0), { nonBlocking: true }).catch(() => {});
    // "xu" to cmd 0 as id 3, then an empty NonBlock request to cmd 2 as id 5; 0x40 on both.
    const expected = "0000000e0000000000000003400000007875" + "0000000c000000000000000548000002";
    await until(() => seen.join("").length >= expected.length, 2000, "bytes");
    expect(seen.join("")).toBe(expected);
    client.destroy();
    sink.close();
  });

  test.skipIf(!overTcp)("with weft: false a client's bytes are qrpc's exactly", async () => {
    const seen: string[] = [];
    const sink = await fakePeer((socket) => socket.on("data", (chunk: Uint8Array) => seen.push(toHex(chunk))));
    const client = await adapter.connect({ port: sink.port, weft: false });
    client.request(0, text("xu")).catch(() => {});
    client.request(2, new Uint8Array(0), { nonBlocking: true }).catch(() => {});
    const expected = "0000000e0000000000000003000000007875" + "0000000c000000000000000508000002";
    await until(() => seen.join("").length >= expected.length, 2000, "bytes");
    expect(seen.join("")).toBe(expected);
    client.destroy();
    sink.close();
  });
});

describe("wire bytes: codec flag and failing streams", () => {
  test("a request with the Codec flag (none negotiated) is reset with reason 12; a weft client's connection serves on", async () => {
    const { raw } = await rawWeftClient(port);
    raw.write(hex("0000000e 0000000000000005 20 000002 7875"));
    expect(toHex((await raw.readFrame()).subarray(4, 16))).toBe("00000000000000050400000c");
    raw.write(hex("0000000e 0000000000000007 00 000000 7875"));
    expect(str((await raw.readFrame()).subarray(16))).toBe("hello world xu");
    raw.close();
  });

  test("the same from a plain qrpc client: the reset, then the connection closes", async () => {
    const raw = await rawClient();
    raw.write(hex("0000000e 0000000000000003 20 000002 7875"));
    expect(toHex(await raw.readFrame())).toBe("0000000c00000000000000030400000c");
    expect(await raw.waitClosed()).toBe(true);
  });

  test.skipIf(!overTcp)("a reply with the Codec flag fails that call alone with unimplemented", async () => {
    // Answers id 3 with a Codec-flagged reply, id 5 normally.
    const odd = await fakePeer((socket) =>
      socket.once("data", () => {
        socket.write(hex("0000000e 0000000000000003 20 000002 7a7a"));
        socket.write(hex("0000000e 0000000000000005 00 000002 6f6b"));
      })
    );
    const client = await adapter.connect({ port: odd.port });
    const [first, second] = await Promise.allSettled([client.request(2, text("a")), client.request(2, text("b"))]);
    expect((first as PromiseRejectedResult).reason.code).toBe("unimplemented");
    expect((first as PromiseRejectedResult).reason.message).toContain("Codec flag");
    expect(str((second as PromiseFulfilledResult<{ payload: Uint8Array }>).value.payload)).toBe("ok");
    client.destroy();
    odd.close();
  });

  test("a streaming handler that fails sends exactly one reset; the caller's late frames are dropped", async () => {
    server.handle(40, async (req) => {
      for await (const _ of req.stream) throw new Error("bad chunk");
    });
    const { raw } = await rawWeftClient(port);
    raw.write(hex("0000000d 0000000000000005 01 000028 61"));
    expect(toHex((await raw.readFrame()).subarray(4, 16))).toBe("00000000000000050400000d");
    raw.write(hex("0000000d 0000000000000005 01 000028 62")); // late: dropped, no second handler
    raw.write(hex("0000000d 0000000000000005 03 000028 63"));
    raw.write(hex("0000000e 0000000000000007 00 000000 7875"));
    // The very next frame is the reply to id 7: no second reset, no reply for id 5.
    expect(toHex(await raw.readFrame()).slice(8, 24)).toBe("0000000000000007");
    raw.close();
  });

  test("a reply over the frame limit is reset with reason 8, plain or streamed", async () => {
    const small = new Server({ maxFrameSize: 1024 });
    small.handle(1, () => new Uint8Array(2000));
    small.handle(2, async function* () {
      yield new Uint8Array(10);
      yield new Uint8Array(2000);
    });
    const listener = await adapter.listen(small, { port: 0 });
    const { raw } = await rawWeftClient(listener.port); // its hello call (cmd 0) is reset: no such cmd here
    raw.write(hex("0000000c 0000000000000005 08 000001"));
    expect(toHex((await raw.readFrame()).subarray(4, 16))).toBe("000000000000000504000008");
    raw.write(hex("0000000c 0000000000000007 08 000002"));
    expect(toHex((await raw.readFrame()).subarray(0, 16))).toBe("00000016000000000000000701000002");
    expect(toHex((await raw.readFrame()).subarray(4, 16))).toBe("000000000000000704000008");
    raw.close();
    await small.close({ timeout: 100 });
  });
});
