/**
 * Per-stream flow control between weft peers: a slow consumer slows its producer across
 * the network, memory stays bounded on both ends, and a stalled stream stalls nothing
 * else on the connection (qrpc's gap: one unread stream stops the whole connection).
 */
import { describe, expect, test } from "bun:test";
import type { Server } from "../mod.ts";
import { Cmd, installHandlers } from "./fixtures/handlers.ts";
import { frame, hex, readU32, sleep, str, text, toHex, u32, until } from "./support/bytes.ts";
import { startPair } from "./support/harness.ts";
import { rawWeftClient } from "./support/raw_weft.ts";

const Flow = {
  /** Offers 1 GiB in 64 KiB chunks; counts what it produced. */
  Gigabyte: 220,
  /** Reads its request stream slowly: 2 ms per chunk, `SLOW_READS` chunks, then replies. */
  SlowSink: 221,
} as const;

const CHUNK = 64 * 1024;
const GIB_CHUNKS = 16 * 1024; // 16384 x 64 KiB = 1 GiB
const SLOW_READS = 150;
const WINDOW = 1024 * 1024; // the default per-stream window
/** What may be in flight beyond the window: a frame that took the credit below zero, one being produced. */
const SLACK = 2 * (CHUNK + 16);
const HEAP_BOUND = 64 * 1024 * 1024;

interface Counters {
  produced: number;
  producerStopped: boolean;
  consumed: number;
  /** Bytes the client had sent when the slow sink finished reading. */
  sentWhenSinkDone: number;
  sent: number;
}

function install(server: Server, counters: Counters): void {
  installHandlers(server);
  server.handle(Flow.Gigabyte, async function* () {
    const chunk = new Uint8Array(CHUNK).fill(7);
    try {
      for (let i = 0; i < GIB_CHUNKS; i++) {
        counters.produced += CHUNK;
        yield chunk;
      }
    } finally {
      counters.producerStopped = true;
    }
  });
  server.handle(Flow.SlowSink, async (req) => {
    let reads = 0;
    for await (const chunk of req.stream) {
      counters.consumed += chunk.length;
      await sleep(2);
      if (++reads === SLOW_READS) break;
    }
    counters.sentWhenSinkDone = counters.sent;
    return u32(reads);
  });
}

const heapUsed = (): number => (globalThis as { process?: { memoryUsage(): { heapUsed: number } } }).process!.memoryUsage().heapUsed;

/** Unary calls, one after another, until `stop()`; returns how many completed. */
function keepCalling(call: () => Promise<unknown>): { stop(): Promise<number> } {
  let running = true;
  let completed = 0;
  const loop = (async () => {
    while (running) {
      await call();
      completed++;
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return completed;
    },
  };
}

describe("per-stream flow control", () => {
  test("a server stream offering 1 GiB to a slow reader: bounded memory, unary calls keep completing", async () => {
    const counters: Counters = { produced: 0, producerStopped: false, consumed: 0, sentWhenSinkDone: 0, sent: 0 };
    const pair = await startPair((server) => install(server, counters));
    await pair.client.request(Cmd.Echo, text("handshake"));
    await until(() => pair.serverSide.protocolVersion === 1, 2000, "handshake");
    const heapBefore = heapUsed();
    let maxAhead = 0;
    let heapPeak = heapBefore;
    const unary = keepCalling(async () => {
      expect(str((await pair.client.request(Cmd.Echo, text("ping"))).payload)).toBe("ping");
    });
    const response = await pair.client.request(Flow.Gigabyte, undefined, { nonBlocking: true });
    let reads = 0;
    for await (const chunk of response) {
      counters.consumed += chunk.length;
      maxAhead = Math.max(maxAhead, counters.produced - counters.consumed);
      heapPeak = Math.max(heapPeak, heapUsed());
      await sleep(2);
      if (++reads === SLOW_READS) break;
    }
    const unaryDone = await unary.stop();
    // The producer ran at most a window (and a frame or two) ahead of the reader.
    expect(maxAhead).toBeLessThanOrEqual(WINDOW + SLACK);
    expect(heapPeak - heapBefore).toBeLessThan(HEAP_BOUND);
    expect(unaryDone).toBeGreaterThan(10);
    await until(() => counters.producerStopped, 3000, "the producer to stop after the reader broke off");
    expect(counters.produced).toBeLessThan(GIB_CHUNKS * CHUNK / 8);
    // The stalls are counted where they happened: the server's sends waited; nobody paused reading.
    expect(pair.serverSide.streams.creditWaits).toBeGreaterThan(0);
    expect(pair.client.streams.framesRead).toBeGreaterThanOrEqual(SLOW_READS);
    expect([pair.client.streams.readPauses, pair.client.streams.creditWaits]).toEqual([0, 0]);
    await pair.close();
  });

  test("a client stream offering 1 GiB to a slow handler: the sender waits, unary calls keep completing", async () => {
    const counters: Counters = { produced: 0, producerStopped: false, consumed: 0, sentWhenSinkDone: 0, sent: 0 };
    const pair = await startPair((server) => install(server, counters));
    await pair.client.request(Cmd.Echo, text("handshake"));
    await until(() => pair.client.protocolVersion === 1, 2000, "handshake");
    const heapBefore = heapUsed();
    let heapPeak = heapBefore;
    const unary = keepCalling(async () => {
      expect(str((await pair.client.request(Cmd.Echo, text("ping"))).payload)).toBe("ping");
    });
    const call = pair.client.call(Flow.SlowSink);
    const chunk = new Uint8Array(CHUNK).fill(3);
    let stoppedBy: unknown = null;
    for (let i = 0; i < GIB_CHUNKS; i++) {
      try {
        await call.send(chunk);
      } catch (error) {
        stoppedBy = error; // the handler stopped reading: the rest of the gigabyte is refused
        break;
      }
      counters.sent += CHUNK;
      heapPeak = Math.max(heapPeak, heapUsed());
    }
    expect(readU32((await call.response).payload)).toBe(SLOW_READS);
    expect(stoppedBy).not.toBe(null);
    const unaryDone = await unary.stop();
    expect(counters.sentWhenSinkDone - counters.consumed).toBeLessThanOrEqual(WINDOW + SLACK);
    expect(counters.sent).toBeLessThan(SLOW_READS * CHUNK + WINDOW + 2 * SLACK);
    expect(heapPeak - heapBefore).toBeLessThan(HEAP_BOUND);
    expect(unaryDone).toBeGreaterThan(10);
    expect(pair.client.streams.creditWaits).toBeGreaterThan(0);
    expect(pair.serverSide.streams.framesRead).toBeGreaterThanOrEqual(SLOW_READS);
    expect(pair.serverSide.streams.readPauses).toBe(0);
    await pair.close();
  });

  test("a stream nobody reads stalls nothing else: another stream and unary calls complete", async () => {
    const counters: Counters = { produced: 0, producerStopped: false, consumed: 0, sentWhenSinkDone: 0, sent: 0 };
    const pair = await startPair((server) => install(server, counters));
    await pair.client.request(Cmd.Echo, text("handshake"));
    await until(() => pair.serverSide.protocolVersion === 1, 2000, "handshake");
    const stalled = await pair.client.request(Flow.Gigabyte, undefined, { nonBlocking: true }); // never read
    await until(() => counters.produced >= WINDOW, 2000, "the stalled stream to fill its window");
    // 5 MiB through another stream of the same connection: five times what the stalled one holds.
    const other = await pair.client.request(Cmd.Count, u32(250_000));
    let count = 0;
    for await (const _ of other) count++;
    expect(count).toBe(250_000);
    expect(str((await pair.client.request(Cmd.Echo, text("still here"))).payload)).toBe("still here");
    expect(counters.produced).toBeLessThanOrEqual(WINDOW + SLACK);
    stalled.stream!.cancel();
    await until(() => counters.producerStopped, 3000, "the stalled producer to stop");
    await pair.close();
  });

  test("without a weft peer (pure qrpc), the old model holds: memory bounded by pausing the connection", async () => {
    const counters: Counters = { produced: 0, producerStopped: false, consumed: 0, sentWhenSinkDone: 0, sent: 0 };
    const pair = await startPair((server) => install(server, counters), { client: { weft: false } });
    const response = await pair.client.request(Flow.Gigabyte, undefined, { nonBlocking: true });
    await until(() => response.stream!.bufferedBytes > WINDOW, 3000, "the unread stream to pass its high-water mark");
    let reads = 0;
    for await (const chunk of response) {
      counters.consumed += chunk.length;
      if (++reads === 40) break;
    }
    await until(() => counters.producerStopped, 3000, "the producer to stop");
    expect(counters.produced).toBeLessThan(GIB_CHUNKS * CHUNK / 8);
    // Counted as read pauses on the client; with no windows, no send ever waited for credit.
    expect(pair.client.streams.readPauses).toBeGreaterThan(0);
    expect(pair.serverSide.streams.creditWaits).toBe(0);
    await pair.close();
  });

  test("stream frames are counted each way: every frame with a stream bit, the end included", async () => {
    const counters: Counters = { produced: 0, producerStopped: false, consumed: 0, sentWhenSinkDone: 0, sent: 0 };
    const pair = await startPair((server) => install(server, counters));
    expect(str((await pair.client.request(Cmd.Echo, text("unary"))).payload)).toBe("unary"); // no stream frame
    expect(pair.client.streams).toEqual({ open: 0, framesRead: 0, framesWritten: 0, creditWaits: 0, readPauses: 0 });
    let items = 0;
    for await (const _ of await pair.client.request(Cmd.Count, u32(5))) items++;
    expect(items).toBe(5);
    const sum = pair.client.call(Cmd.Sum);
    for (const chunk of ["a", "bb", "ccc"]) await sum.send(text(chunk));
    await sum.end();
    expect(readU32((await sum.response).payload)).toBe(6);
    // Five items and the end frame down; three chunks and the end frame up.
    expect(pair.client.streams).toEqual({ open: 0, framesRead: 6, framesWritten: 4, creditWaits: 0, readPauses: 0 });
    await until(() => pair.serverSide.streams.framesRead === 4, 2000, "the server to count what it read");
    expect(pair.serverSide.streams).toEqual({ open: 0, framesRead: 4, framesWritten: 6, creditWaits: 0, readPauses: 0 });
    // Open streams are counted while they run, on both ends: a server stream, a client stream and a unary call.
    const flowing = await pair.client.request(Flow.Gigabyte, undefined, { nonBlocking: true });
    const upload = pair.client.call(Flow.SlowSink);
    await upload.send(text("a"));
    const hang = pair.client.request(Cmd.Hang, text("unary"), { nonBlocking: true });
    await until(() => pair.serverSide.inFlight.requests === 3, 2000, "three requests in flight");
    expect([pair.client.streams.open, pair.serverSide.streams.open]).toEqual([2, 2]);
    flowing.stream!.cancel();
    upload.cancel();
    await until(() => pair.client.streams.open === 0 && pair.serverSide.streams.open === 0, 3000, "the streams to end");
    pair.client.destroy();
    await hang.catch(() => {});
    await pair.close();
  });
});

describe("flow control on the wire", () => {
  test("the receiver grants read bytes back with WINDOW_UPDATE (0x80, cmd 7, id = the stream)", async () => {
    const counters: Counters = { produced: 0, producerStopped: false, consumed: 0, sentWhenSinkDone: 0, sent: 0 };
    const pair = await startPair((server) => install(server, counters), { server: { streamHighWaterMark: 64 * 1024 } });
    const { raw, hello } = await rawWeftClient(pair.listener.port);
    expect(hello.window).toBe(65536);
    // A flow-controlled request stream (block: tag 6, empty) to Sum, then 40 KiB more: past half the window.
    raw.write(frame(5, 0x40 | 0x01, Cmd.Sum, hex("00000005 06 00000000")));
    for (let i = 0; i < 5; i++) raw.write(frame(5, 0x01, Cmd.Sum, new Uint8Array(8 * 1024)));
    const update = await raw.readFrame();
    // id 5, flags 0x80, cmd 7; a u32 of granted bytes: every frame read so far, headers included.
    expect(toHex(update.subarray(4, 16))).toBe("000000000000000580000007");
    const granted = readU32(update, 16);
    expect(granted % (8 * 1024 + 16)).toBe(16); // n frames of 8 KiB plus the empty opening frame
    expect(granted).toBeGreaterThanOrEqual(32 * 1024);
    raw.write(frame(5, 0x02, Cmd.Sum));
    const reply = await raw.readFrame();
    expect(readU32(reply, 16)).toBe(5 * 8 * 1024);
    raw.close();
    await pair.close();
  });

  test("a peer that sends past its window fails that stream with resource_exhausted, nothing else", async () => {
    const errors: unknown[] = [];
    const pair = await startPair((server) => installHandlers(server), {
      server: { streamHighWaterMark: 64 * 1024, maxFrameSize: 128 * 1024, onError: (e) => errors.push(e) },
    });
    const { raw } = await rawWeftClient(pair.listener.port, { maxFrameSize: 128 * 1024 });
    // Hang never reads its stream; the raw peer ignores the window and keeps sending.
    raw.write(frame(5, 0x40 | 0x01, Cmd.Hang, hex("00000005 06 00000000")));
    for (let i = 0; i < 8; i++) raw.write(frame(5, 0x01, Cmd.Hang, new Uint8Array(32 * 1024)));
    const reset = await raw.readFrame();
    expect(toHex(reset.subarray(4, 16))).toBe("000000000000000504000008"); // reason 8
    expect(JSON.parse(str(reset.subarray(16))).message).toContain("flow-control window");
    raw.write(frame(7, 0, Cmd.Echo, text("other calls go on")));
    expect(str((await raw.readFrame()).subarray(16))).toBe("other calls go on");
    raw.close();
    await pair.close();
  });
});
