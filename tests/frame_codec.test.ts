/** The frame codec on its own: decoding in every chunking, limits, ids, and write coalescing. */
import { describe, expect, test } from "bun:test";
import {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  Flags,
  type Frame,
  FrameDecoder,
  FrameWriter,
  ProtocolError,
  type RequestId,
} from "../mod.ts";
import { hex, patterned, sameBytes, toHex } from "./support/bytes.ts";

function collect(decoder: FrameDecoder, chunks: Uint8Array[]): Frame[] {
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    decoder.decode(chunk, (id, flags, cmd, payload) => frames.push({ id, flags, cmd, payload: payload.slice() }));
  }
  return frames;
}

const golden = hex("0000000e 0000000000000001 00 000000 7875");

describe("frame codec", () => {
  test("encodes the golden qrpc request byte for byte", () => {
    const bytes = encodeFrame({ id: 1, flags: 0, cmd: 0, payload: new TextEncoder().encode("xu") });
    expect(toHex(bytes)).toBe(toHex(golden));
  });

  test("decodes the golden request and reply", () => {
    const reply = hex("0000001a 0000000000000001 00 000001 68656c6c6f20776f726c64207875");
    const frames = collect(new FrameDecoder(DEFAULT_MAX_FRAME_SIZE), [golden, reply]);
    expect(frames.length).toBe(2);
    expect(frames[0]).toEqual({ id: 1, flags: 0, cmd: 0, payload: new TextEncoder().encode("xu") });
    expect(frames[1].cmd).toBe(1);
    expect(new TextDecoder().decode(frames[1].payload)).toBe("hello world xu");
  });

  test("decodes many frames in one chunk and the same bytes split at every offset", () => {
    const sent: Frame[] = [
      { id: 3, flags: Flags.NonBlock, cmd: 7, payload: patterned(5, 1) },
      { id: 5, flags: Flags.Stream, cmd: 0xabcdef, payload: new Uint8Array(0) },
      { id: 2, flags: Flags.Stream | Flags.StreamEnd, cmd: 9, payload: patterned(300, 2) },
      { id: 7, flags: Flags.Push, cmd: 1, payload: patterned(17, 3) },
    ];
    const all = new Uint8Array(sent.reduce((n, f) => n + 16 + f.payload.length, 0));
    let at = 0;
    for (const frame of sent) {
      const bytes = encodeFrame(frame);
      all.set(bytes, at);
      at += bytes.length;
    }
    expect(collect(new FrameDecoder(1024), [all])).toEqual(sent);
    for (let cut = 1; cut < all.length; cut++) {
      const got = collect(new FrameDecoder(1024), [all.subarray(0, cut), all.subarray(cut)]);
      expect(got).toEqual(sent);
    }
    // One byte at a time: the worst a socket can do.
    const bytewise = Array.from({ length: all.length }, (_, i) => all.subarray(i, i + 1));
    expect(collect(new FrameDecoder(1024), bytewise)).toEqual(sent);
  });

  test("stops after a frame budget and resumes where it stopped", () => {
    const frames = Array.from({ length: 5 }, (_, i) => encodeFrame({ id: 2 * i + 3, flags: 0, cmd: 1, payload: patterned(7, i + 1) }));
    const chunk = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((at, f) => (chunk.set(f, at), at + f.length), 0);
    const decoder = new FrameDecoder(1024);
    const ids: number[] = [];
    const onFrame = (id: RequestId) => void ids.push(id as number);
    const used = decoder.decode(chunk, onFrame, 2);
    expect(ids).toEqual([3, 5]);
    expect(used).toBe(2 * 23);
    expect(decoder.decode(chunk.subarray(used), onFrame, 2)).toBe(2 * 23);
    expect(decoder.decode(chunk.subarray(used * 2), onFrame, 2)).toBe(23);
    expect(ids).toEqual([3, 5, 7, 9, 11]);
  });

  test("hands out payloads as views of the chunk, without copying", () => {
    const chunk = new Uint8Array([...encodeFrame({ id: 3, flags: 0, cmd: 1, payload: patterned(64) })]);
    let payload: Uint8Array | null = null;
    new FrameDecoder(1024).decode(chunk, (_id, _flags, _cmd, p) => (payload = p));
    expect(payload!.buffer).toBe(chunk.buffer);
    expect(payload!.byteOffset).toBe(16);
  });

  test("with copySmall, a chunk of one frame of up to 64 bytes of payload hands out a plain copy", () => {
    // A Node Buffer as the chunk: a copy must still be a plain Uint8Array, not a Buffer view.
    const NodeBuffer = (globalThis as { Buffer?: { from(bytes: Uint8Array): Uint8Array } }).Buffer;
    const asChunk = (bytes: Uint8Array) => NodeBuffer === undefined ? bytes : NodeBuffer.from(bytes);
    const decodeOne = (chunk: Uint8Array, copySmall: boolean) => {
      const payloads: Uint8Array[] = [];
      new FrameDecoder(1024, false, copySmall).decode(chunk, (_id, _flags, _cmd, p) => payloads.push(p));
      return payloads;
    };
    for (const size of [0, 1, 32, 64, 65, 300]) {
      const chunk = asChunk(encodeFrame({ id: 3, flags: 0, cmd: 1, payload: patterned(size) }));
      const [payload] = decodeOne(chunk, true);
      expect(sameBytes(payload, patterned(size))).toBe(true);
      expect(payload.buffer === chunk.buffer).toBe(size > 64);
      if (size <= 64) expect(Object.getPrototypeOf(payload)).toBe(Uint8Array.prototype);
      chunk.fill(0); // a copy keeps its bytes; a view sees the chunk
      expect(sameBytes(payload, patterned(size))).toBe(size <= 64);
      // Without copySmall it is a view, as every frame is.
      const again = asChunk(encodeFrame({ id: 3, flags: 0, cmd: 1, payload: patterned(size) }));
      expect(decodeOne(again, false)[0].buffer).toBe(again.buffer);
    }
    // Several frames in a chunk share its buffer: views, even when small.
    const two = new Uint8Array(2 * (16 + 32));
    two.set(encodeFrame({ id: 3, flags: 0, cmd: 1, payload: patterned(32) }));
    two.set(encodeFrame({ id: 5, flags: 0, cmd: 1, payload: patterned(32, 2) }), 48);
    const chunk = asChunk(two);
    const payloads = decodeOne(chunk, true);
    expect(payloads.map((p) => p.buffer === chunk.buffer)).toEqual([true, true]);
    expect(sameBytes(payloads[1], patterned(32, 2))).toBe(true);
  });

  test("assembles a 6 MiB frame split into 4 KiB chunks, intact", () => {
    const payload = patterned(6 * 1024 * 1024, 9);
    const bytes = encodeFrame({ id: 11, flags: 0, cmd: 2, payload });
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 4096) chunks.push(bytes.subarray(i, i + 4096));
    const frames = collect(new FrameDecoder(DEFAULT_MAX_FRAME_SIZE), chunks);
    expect(frames.length).toBe(1);
    expect(sameBytes(frames[0].payload, payload)).toBe(true);
  });

  test("a 256 KiB frame dripped one byte per chunk: decoded intact, holding no more than it received", () => {
    // Keeping every piece and walking them all on each chunk made this quadratic: ~30 s here,
    // and 60 % of a core for a peer dripping 3 KB/s. Now each byte is copied once on arrival.
    const payload = patterned(256 * 1024, 5);
    const bytes = encodeFrame({ id: 13, flags: 0, cmd: 2, payload });
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_SIZE);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) {
      decoder.decode(bytes.subarray(i, i + 1), (_id, _flags, _cmd, got) => frames.push(got.slice()));
      if (i === 100_000) expect(decoder.bufferedBytes).toBe(100_001);
    }
    expect(frames.length).toBe(1);
    expect(sameBytes(frames[0], payload)).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test("round-trips 64-bit ids, past 2^53 as bigint", () => {
    const ids: RequestId[] = [0, 1, 2 ** 32 - 1, 2 ** 32 + 5, 2 ** 53 - 1, 2n ** 63n + 1n, 0xffffffffffffffffn];
    for (const id of ids) {
      const [frame] = collect(new FrameDecoder(64), [encodeFrame({ id, flags: 0, cmd: 0, payload: new Uint8Array(0) })]);
      expect(frame.id).toEqual(id);
    }
    expect(toHex(encodeFrame({ id: 0xfedcba9876543210n, flags: 0, cmd: 0, payload: new Uint8Array(0) }))).toBe(
      "0000000cfedcba987654321000000000",
    );
  });

  test("rejects a length field below 12", () => {
    const decoder = new FrameDecoder(1024);
    expect(() => decoder.decode(hex("0000000b 0000000000000001 00 000000"), () => {})).toThrow(ProtocolError);
    expect(() => new FrameDecoder(1024).decode(hex("00000000"), () => {})).toThrow("below the minimum of 12");
  });

  test("rejects a frame over the limit as soon as its length is known", () => {
    const decoder = new FrameDecoder(1000);
    // Only the 4 length bytes have arrived: the decoder must not wait for 1001 more.
    expect(() => decoder.decode(hex("000003e9"), () => {})).toThrow("exceeds the limit of 1000 bytes");
    // Exactly at the limit is fine.
    const ok = encodeFrame({ id: 1, flags: 0, cmd: 0, payload: new Uint8Array(1000 - 12) });
    expect(collect(new FrameDecoder(1000), [ok]).length).toBe(1);
  });

  test("rejects an oversize length split across chunks", () => {
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_SIZE);
    decoder.decode(hex("7f"), () => {});
    expect(() => decoder.decode(hex("ffffff"), () => {})).toThrow(ProtocolError);
  });
});

describe("frame writer", () => {
  function recordingStream() {
    const writes: Uint8Array[] = [];
    const writable = new WritableStream<Uint8Array>({ write: (chunk) => void writes.push(chunk) });
    return { writes, writable };
  }

  test("coalesces every frame of a tick into one write", async () => {
    const { writes, writable } = recordingStream();
    const writer = new FrameWriter(writable, (e) => {
      throw e;
    });
    for (let i = 0; i < 100; i++) writer.write(2 * i + 3, 0, 1, patterned(32, i + 1));
    expect(writes.length).toBe(0); // nothing until the tick ends
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(writes.length).toBe(1);
    expect(writes[0].length).toBe(100 * 48);
    const frames = collect(new FrameDecoder(1024), writes);
    expect(frames.map((f) => f.id)).toEqual(Array.from({ length: 100 }, (_, i) => 2 * i + 3));
    expect(sameBytes(frames[99].payload, patterned(32, 100))).toBe(true);
  });

  test("a tick that outgrows one 64 KiB slab still goes out as one write", async () => {
    const { writes, writable } = recordingStream();
    const writer = new FrameWriter(writable, () => {});
    for (let i = 0; i < 3000; i++) writer.write(2 * i + 3, 0, 1, patterned(32, i + 1)); // 144,000 bytes
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(writes.length).toBe(1);
    const frames = collect(new FrameDecoder(1024), writes);
    expect(frames.length).toBe(3000);
    expect(sameBytes(frames[2999].payload, patterned(32, 3000))).toBe(true);
  });

  test("a producer writing one frame per tick is batched, and still flushed when it stops", async () => {
    const { writes, writable } = recordingStream();
    const writer = new FrameWriter(writable, () => {});
    for (let i = 0; i < 5000; i++) {
      writer.write(2, Flags.Stream, 3, patterned(32, i + 1));
      await Promise.resolve(); // an async generator yields about this often
    }
    await new Promise((resolve) => setTimeout(resolve, 20)); // the turn ends: the tail goes out
    expect(writes.length).toBeLessThan(20); // not one write per frame
    const frames = collect(new FrameDecoder(1024), writes);
    expect(frames.length).toBe(5000);
    expect(sameBytes(frames[4999].payload, patterned(32, 5000))).toBe(true);
  });

  test("after newTurn() a frame leaves at the end of its tick again", async () => {
    const { writes, writable } = recordingStream();
    const writer = new FrameWriter(writable, () => {});
    for (let i = 0; i < 50; i++) {
      writer.write(2, Flags.Stream, 3, patterned(8, i + 1));
      await Promise.resolve();
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = writes.length;
    writer.newTurn();
    writer.write(5, 0, 1, patterned(8, 99));
    await Promise.resolve();
    await Promise.resolve();
    expect(writes.length).toBe(before + 1); // no timer wait: out within the tick
  });

  test("passes large payloads through without copying, in order", async () => {
    const { writes, writable } = recordingStream();
    const writer = new FrameWriter(writable, () => {});
    const big = patterned(100_000, 5);
    writer.write(3, 0, 1, patterned(10, 1));
    writer.write(5, 0, 1, big);
    writer.write(7, 0, 1, patterned(10, 2));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(writes.some((chunk) => chunk === big)).toBe(true);
    const frames = collect(new FrameDecoder(1 << 20), writes);
    expect(frames.map((f) => f.id)).toEqual([3, 5, 7]);
    expect(sameBytes(frames[1].payload, big)).toBe(true);
  });

  test("a flush of several chunks runs corked where the writer can cork: a header and its payload leave together", async () => {
    const log: string[] = [];
    const sink = {
      getWriter: () => ({
        desiredSize: 1,
        ready: Promise.resolve(),
        write: (chunk: Uint8Array) => (log.push(`write ${chunk.length}`), Promise.resolve()),
        cork: (writes: () => void) => (log.push("cork"), writes(), log.push("uncork")),
        close: () => Promise.resolve(),
        abort: () => Promise.resolve(),
      }),
    };
    const writer = new FrameWriter(sink, () => {});
    writer.write(3, 0, 1, patterned(10, 1)); // one chunk alone: no cork
    await new Promise((resolve) => setTimeout(resolve, 5));
    writer.write(5, 0, 1, patterned(100_000, 5));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(log).toEqual(["write 26", "cork", "write 16", "write 100000", "uncork"]);
  });

  test("never rewrites bytes already handed to the stream", async () => {
    const { writes, writable } = recordingStream();
    const writer = new FrameWriter(writable, () => {});
    writer.write(3, 0, 1, patterned(20, 1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const first = writes[0].slice();
    for (let i = 0; i < 5000; i++) writer.write(5 + 2 * i, 0, 1, patterned(40, i + 2));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(sameBytes(writes[0], first)).toBe(true);
    expect(collect(new FrameDecoder(1024), writes).length).toBe(5001);
  });
});
