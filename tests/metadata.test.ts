/**
 * Per-call metadata, trailers and deadlines on the wire (the extension block): both
 * directions, the first call of a connection included, a plain qrpc peer, and every way
 * a block can be bad.
 */
import { describe, expect, test } from "bun:test";
import { type Metadata, resetReasonOf, RpcError, type Server } from "../mod.ts";
import { Cmd, installHandlers } from "./fixtures/handlers.ts";
import { frame, hex, readU32, sleep, str, text, toHex, until } from "./support/bytes.ts";
import { startPair } from "./support/harness.ts";
import { startQrpcPeer } from "./support/qrpc_peer.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { rawWeftClient } from "./support/raw_weft.ts";
import { adapter, overTcp } from "./support/runtime.ts";

const Meta = {
  /** Replies with JSON of the request's metadata (bytes as arrays), and sets reply metadata and trailers. */
  Show: 201,
  /** Streams three frames; reply metadata on the first, trailers on the end. */
  Stream: 202,
  /** Replies with the request's deadline minus now, in ms (or -1). */
  Deadline: 203,
  /** Waits for its signal; records why it aborted. */
  Wait: 204,
  /** Reads a request stream and replies with its metadata's "who". */
  Upload: 205,
  /** Calls the client's cmd 300 with metadata and replies with what it answered. */
  AskClient: 206,
} as const;

function showable(metadata: Readonly<Metadata>): Record<string, string | number[]> {
  const out: Record<string, string | number[]> = {};
  for (const [key, value] of Object.entries(metadata)) out[key] = typeof value === "string" ? value : [...(value as Uint8Array)];
  return out;
}

function install(server: Server, aborts: string[] = []): void {
  installHandlers(server);
  server.handle(Meta.Show, (req) => {
    req.replyMetadata["seen-by"] = "server";
    req.trailers["status-detail"] = "all good";
    req.trailers["checksum"] = new Uint8Array([9, 8, 7]);
    return text(JSON.stringify(showable(req.metadata)));
  });
  server.handle(Meta.Stream, async function* (req) {
    req.replyMetadata["first"] = "yes";
    for (let i = 0; i < 3; i++) yield text(`item ${i}`);
    req.trailers["count"] = "3";
  });
  server.handle(Meta.Deadline, (req) => text(String(req.deadline === undefined ? -1 : req.deadline - Date.now())));
  server.handle(Meta.Wait, (req) =>
    new Promise<Uint8Array>((resolve) => {
      const timer = setTimeout(() => resolve(text("woke")), 10_000);
      req.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        aborts.push((req.signal.reason as RpcError).code);
        resolve(text("aborted"));
      });
    }));
  server.handle(Meta.Upload, async (req) => {
    let chunks = 0;
    for await (const _ of req.stream) chunks++;
    return text(`${req.metadata["who"]}:${chunks}`);
  });
  server.handle(Meta.AskClient, async (req) => {
    const answer = await req.connection.request(300, text("may I?"), { metadata: { asker: "server" } });
    return text(`${str(answer.payload)} / ${answer.metadata["mood"]}`);
  });
}

async function negotiated(setup = install, options = {}) {
  const pair = await startPair(setup, options);
  await pair.client.request(Cmd.Echo, text("warm up"));
  await until(() => pair.client.protocolVersion === 1 && pair.serverSide.protocolVersion === 1, 2000, "handshake");
  return pair;
}

describe("per-call metadata", () => {
  test("string and byte metadata reach the handler; reply metadata and trailers come back", async () => {
    const pair = await negotiated();
    const reply = await pair.client.request(Meta.Show, text(""), {
      metadata: { authorization: "Bearer abc", "trace-id": "t-1", blob: new Uint8Array([0, 255, 1]) },
    });
    expect(JSON.parse(str(reply.payload))).toEqual({
      authorization: "Bearer abc",
      "trace-id": "t-1",
      blob: [0, 255, 1],
    });
    expect(reply.metadata).toEqual({ "seen-by": "server" });
    expect(reply.trailers["status-detail"]).toBe("all good");
    const checksum = reply.trailers["checksum"];
    expect(checksum instanceof Uint8Array).toBe(true);
    expect([...(checksum as Uint8Array)]).toEqual([9, 8, 7]);
    await pair.close();
  });

  test("a call without metadata sends no block and reads as empty metadata", async () => {
    const pair = await negotiated();
    const reply = await pair.client.request(Meta.Show, text(""));
    expect(JSON.parse(str(reply.payload))).toEqual({});
    await pair.close();
  });

  test("the very first call of a connection carries its metadata (its block follows the handshake)", async () => {
    const pair = await startPair(install);
    // Nothing has been negotiated yet: this call itself carries the hello.
    const reply = await pair.client.request(Meta.Show, text(""), { metadata: { first: "call" } });
    expect(JSON.parse(str(reply.payload))).toEqual({ first: "call" });
    expect(reply.metadata).toEqual({ "seen-by": "server" });
    await pair.close();
  });

  test("first-flight calls with and without metadata, blocking and not, are all served in order", async () => {
    const pair = await startPair(install);
    const replies = await Promise.all([
      pair.client.request(Cmd.Echo, text("a")),
      pair.client.request(Meta.Show, text(""), { metadata: { n: "1" } }),
      pair.client.request(Cmd.Echo, text("b"), { nonBlocking: true }),
      pair.client.request(Meta.Show, text(""), { metadata: { n: "2" }, nonBlocking: true }),
    ]);
    expect(replies.map((r) => str(r.payload))).toEqual(["a", '{"n":"1"}', "b", '{"n":"2"}']);
    await pair.close();
  });

  test("a streamed reply: metadata with the first frame, trailers once the stream has ended", async () => {
    const pair = await negotiated();
    const response = await pair.client.request(Meta.Stream, text(""));
    expect(response.metadata).toEqual({ first: "yes" });
    const items: string[] = [];
    for await (const item of response) items.push(str(item));
    expect(items).toEqual(["item 0", "item 1", "item 2"]);
    expect(response.trailers).toEqual({ count: "3" });
    await pair.close();
  });

  test("a request stream's metadata reaches the handler", async () => {
    const pair = await negotiated();
    const call = pair.client.call(Meta.Upload, { metadata: { who: "uploader" } });
    await call.send(text("1"));
    await call.send(text("2"));
    await call.end();
    expect(str((await call.response).payload)).toBe("uploader:2");
    await pair.close();
  });

  test("server to client: the server's call carries metadata, the client's reply metadata comes back", async () => {
    const pair = await negotiated();
    pair.client.handle(300, (req) => {
      req.replyMetadata["mood"] = "generous";
      return text(`yes, ${req.metadata["asker"]}`);
    });
    const reply = await pair.client.request(Meta.AskClient, text(""));
    expect(str(reply.payload)).toBe("yes, server / generous");
    await pair.close();
  });

  test.skipIf(!overTcp)("to a plain qrpc server, metadata is not sent and the calls still work", async () => {
    const qrpc = await startQrpcPeer();
    const client = await adapter.connect({ port: qrpc.port });
    for (let i = 0; i < 3; i++) {
      const reply = await client.request(0, text(`m${i}`), { metadata: { token: "t" }, timeout: 5000 });
      expect(str(reply.payload)).toBe(`hello world m${i}`);
    }
    expect(client.isOpen).toBe(true);
    expect(qrpc.unknownCmdClosures).toBe(0);
    // Only bits qrpc ignores; payloads untouched; no control frame (id 0) ever.
    expect(qrpc.seen.every((f) => f.id !== 0)).toBe(true);
    expect(qrpc.seen.map((f) => str(f.payload))).toEqual(["m0", "m1", "m2"]);
    client.destroy();
    qrpc.close();
  });

  test("a metadata value that is neither string nor bytes fails that call with invalid_argument", async () => {
    const pair = await negotiated();
    const error = await pair.client
      .request(Meta.Show, text(""), { metadata: { bad: 42 as unknown as string } })
      .catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("invalid_argument");
    expect((error as Error).message).toContain('"bad"');
    expect(str((await pair.client.request(Cmd.Echo, text("still"))).payload)).toBe("still");
    await pair.close();
  });

  test("metadata over the server's limit fails that call with resource_exhausted, nothing else", async () => {
    const errors: unknown[] = [];
    const pair = await negotiated(install, { server: { maxMetadataSize: 1024, onError: (e: unknown) => errors.push(e) } });
    const error = await pair.client
      .request(Meta.Show, text(""), { metadata: { big: "x".repeat(2000) } })
      .catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("resource_exhausted");
    expect((error as Error).message).toContain("exceeds the limit of 1024 bytes");
    const ok = await pair.client.request(Meta.Show, text(""), { metadata: { small: "y" } });
    expect(JSON.parse(str(ok.payload))).toEqual({ small: "y" });
    await pair.close();
  });
});

describe("deadlines on the wire", () => {
  test("the handler sees the caller's deadline", async () => {
    const pair = await negotiated();
    const left = Number(str((await pair.client.request(Meta.Deadline, text(""), { timeout: 2000 })).payload));
    expect(left).toBeGreaterThan(1500);
    expect(left).toBeLessThanOrEqual(2000);
    expect(Number(str((await pair.client.request(Meta.Deadline, text(""))).payload))).toBe(-1);
    await pair.close();
  });

  test("a timeout fails the call with deadline_exceeded and aborts the handler's signal", async () => {
    const aborts: string[] = [];
    const pair = await negotiated((server) => install(server, aborts));
    const error = await pair.client.request(Meta.Wait, text(""), { timeout: 50 }).catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("deadline_exceeded");
    await until(() => aborts.length === 1, 2000, "handler abort");
    expect(aborts).toEqual(["deadline_exceeded"]);
    await pair.close();
  });

  test("the server enforces the deadline itself, even when the caller never resets (raw bytes)", async () => {
    const aborts: string[] = [];
    const pair = await startPair((server) => install(server, aborts));
    const { raw } = await rawWeftClient(pair.listener.port);
    // id 5, 0x40 (block follows), cmd 204; block: timeout entry (tag 1, 4 bytes, 60 ms).
    raw.write(frame(5, 0x40, Meta.Wait, hex("00000009 01 00000004 0000003c")));
    const reset = await raw.readFrame(3000);
    // StreamRst (0x04) with reason 4 (deadline_exceeded) for id 5.
    expect(toHex(reset.subarray(4, 16))).toBe("000000000000000504000004");
    expect(JSON.parse(str(reset.subarray(16))).message).toContain("passed its deadline");
    await until(() => aborts.length === 1, 2000, "handler abort");
    expect(aborts).toEqual(["deadline_exceeded"]);
    raw.close();
    await pair.close();
  });

  // setTimeout keeps 32 bits: a longer delay used to fire after 1 ms, on both sides.
  for (const timeout of [2 ** 31, 30 * 24 * 3600 * 1000, Number.POSITIVE_INFINITY]) {
    test(`a timeout of ${timeout} ms is a long deadline on both sides, not an instant one`, async () => {
      const aborts: string[] = [];
      const pair = await negotiated((server) => {
        install(server, aborts);
        server.handle(210, async (req) => {
          await sleep(150);
          return text(req.signal.aborted ? "aborted" : `alive, ${Math.round((req.deadline! - Date.now()) / 3_600_000)} h left`);
        });
      });
      const reply = await pair.client.request(210, text(""), { timeout });
      // The wire carries 32 bits of milliseconds: a longer timeout reaches the handler as 49.7 days.
      expect(str(reply.payload)).toBe(`alive, ${Math.round(Math.min(timeout, 0xffffffff) / 3_600_000)} h left`);
      expect(aborts).toEqual([]);
      await pair.close();
    });
  }

  test("the server keeps a deadline over 2^31 ms sent in raw bytes (0xFFFFFFFF ms)", async () => {
    const aborts: string[] = [];
    const pair = await startPair((server) => install(server, aborts));
    const { raw } = await rawWeftClient(pair.listener.port);
    raw.write(frame(5, 0x40, Meta.Wait, hex("00000009 01 00000004 ffffffff")));
    await sleep(150);
    expect(aborts).toEqual([]);
    raw.write(frame(5, 0x04, resetReasonOf("cancelled"))); // the caller's own reset ends it
    await until(() => aborts.length === 1, 2000, "handler abort");
    expect(aborts).toEqual(["cancelled"]);
    raw.close();
    await pair.close();
  });

  for (const timeout of [-1, Number.NaN, "100" as unknown as number]) {
    test(`a timeout of ${String(timeout)} is refused with invalid_argument before anything is sent`, async () => {
      const pair = await negotiated();
      const error = await Promise.resolve().then(() => pair.client.request(Cmd.Echo, text("x"), { timeout })).catch((e) => e);
      expect(error instanceof RpcError && error.code).toBe("invalid_argument");
      expect((error as RpcError).message).toContain("timeout must be a number of milliseconds");
      expect(str((await pair.client.request(Cmd.Echo, text("still fine"))).payload)).toBe("still fine");
      await pair.close();
    });
  }
});

describe("extension blocks on the wire", () => {
  test("a hand-built block: a string entry reaches the handler, the reply carries trailers", async () => {
    const pair = await startPair(install);
    const { raw } = await rawWeftClient(pair.listener.port);
    // Block: 9 bytes; entry tag 2 (metadata string), 4 bytes: key length 1, "k", "v".
    raw.write(frame(5, 0x40, Meta.Show, hex("00000009 02 00000004 0001 6b 76")));
    const reply = await raw.readFrame();
    expect(reply[12]).toBe(0x40); // the reply has a block too
    const payload = reply.subarray(16);
    const blockLength = readU32(payload);
    expect(str(payload.subarray(4 + blockLength))).toBe('{"k":"v"}');
    expect(str(payload.subarray(4, 4 + blockLength))).toContain("seen-by");
    raw.close();
    await pair.close();
  });

  test("unknown entry tags are skipped", async () => {
    const pair = await startPair(install);
    const { raw } = await rawWeftClient(pair.listener.port);
    const block = hex("00000011 63 00000003 aabbcc 02 00000004 0001 6b 76"); // tag 0x63, then k=v
    raw.write(frame(5, 0x40, Meta.Show, block));
    const payload = (await raw.readFrame()).subarray(16);
    expect(str(payload.subarray(4 + readU32(payload)))).toBe('{"k":"v"}');
    raw.close();
    await pair.close();
  });

  for (
    const [name, block] of [
      ["a block longer than its payload", "000000ff 02"],
      ["an entry overrunning its block", "00000006 02 000000ff 00"],
      ["a metadata key overrunning its entry", "00000007 02 00000002 00ff"],
      ["a cut-short length prefix", "0000"],
      ["a timeout entry of the wrong size", "00000007 01 00000002 0000"],
      ["metadata that is not UTF-8", "0000000a 02 00000005 0001 6b ff fe"],
    ] as const
  ) {
    test(`${name}: that call is reset with internal and a clear message; the connection serves on`, async () => {
      const errors: unknown[] = [];
      const pair = await startPair(install, { server: { onError: (e) => errors.push(e) } });
      const { raw } = await rawWeftClient(pair.listener.port);
      raw.write(frame(5, 0x40, Meta.Show, hex(block)));
      const reset = await raw.readFrame();
      expect(toHex(reset.subarray(4, 16))).toBe("00000000000000050400000d"); // reason 13
      expect(JSON.parse(str(reset.subarray(16))).message).toContain("extension");
      raw.write(frame(7, 0, Cmd.Echo, text("next")));
      expect(str((await raw.readFrame()).subarray(16))).toBe("next");
      expect(errors.length).toBe(1);
      raw.close();
      await pair.close();
    });
  }

  test("a call marked 0xc0 before the handshake waits for its EXT, then runs with that block", async () => {
    const pair = await startPair(install);
    const raw = await RawSocket.connect(pair.listener.port);
    raw.write(frame(3, 0xc0, Meta.Show, text("")));
    const hello = await raw.readFrame();
    expect(hello[12]).toBe(0x80); // HELLO, and no reply yet: the call waits for its block
    raw.write(frame(0, 0x80, 2, text('{"version":1,"heartbeat":0,"maxFrameSize":10485760}')));
    await sleep(30);
    raw.write(frame(3, 0x80, 8, hex("00000009 02 00000004 0001 6b 76"))); // EXT for id 3: k=v
    const payload = (await raw.readFrame()).subarray(16);
    expect(str(payload.subarray(4 + readU32(payload)))).toBe('{"k":"v"}');
    raw.close();
    await pair.close();
  });
});
