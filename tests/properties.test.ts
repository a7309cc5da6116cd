/**
 * Property tests: the parsers that read what a peer sends, fed many generated cases (seeded:
 * tests/support/random.ts). Well-formed input round-trips; any input at all either parses or
 * fails with the parser's own error, never with a stray TypeError or RangeError, and never
 * by holding more than it was given.
 */
import { describe, expect, test } from "bun:test";
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type Frame, FrameDecoder, ProtocolError, RpcError } from "../mod.ts";
import { decodeControl, encodeControl } from "../src/wire/control.ts";
import { decodeExtensions, encodeExtensions, ExtensionError, type Extensions } from "../src/wire/extensions.ts";
import { namePrefix, readName, withPrefix } from "../src/typed/wire.ts";
import { concat, sameBytes } from "./support/bytes.ts";
import { forAll, type Random } from "./support/random.ts";

function randomFrame(random: Random): Frame {
  const wide = random.chance(0.2);
  const id = wide ? (BigInt(random.int(2 ** 31) + 2 ** 21) << 32n) | BigInt(random.int(2 ** 32)) : random.int(2 ** 32);
  const size = random.chance(0.1) ? random.int(70_000) : random.int(300);
  return { id, flags: random.int(256), cmd: random.int(2 ** 24), payload: random.bytes(size) };
}

/** `bytes` cut at random places (some chunks a single byte). */
function chunked(random: Random, bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = random.chance(0.3) ? 1 : 1 + random.int(random.chance(0.5) ? 64 : 8192);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function randomExtensions(random: Random): Extensions {
  const ext: Extensions = {};
  if (random.chance(0.5)) ext.timeout = random.int(2 ** 32);
  if (random.chance(0.3)) ext.flowControlled = true;
  if (random.chance(0.3)) ext.checksum = random.int(2 ** 32);
  for (const field of ["metadata", "trailers"] as const) {
    if (!random.chance(0.5)) continue;
    const entries: Record<string, string | Uint8Array> = {};
    for (let i = random.int(4); i > 0; i--) {
      const key = `k${random.int(1000)}-${random.text(random.int(6)).replace(/\u0000/g, "")}`;
      entries[key] = random.chance(0.5) ? random.text(random.int(40)) : random.bytes(random.int(40));
    }
    ext[field] = entries;
  }
  return ext;
}

describe("frame decoder (properties)", () => {
  test("any sequence of frames, cut anywhere, decodes to the same frames", () => {
    forAll(300, (random) => {
      const frames = Array.from({ length: 1 + random.int(8) }, () => randomFrame(random));
      const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_SIZE);
      const got: Frame[] = [];
      for (const chunk of chunked(random, concat(...frames.map(encodeFrame)))) {
        decoder.decode(chunk, (id, flags, cmd, payload) => got.push({ id, flags, cmd, payload: payload.slice() }));
      }
      expect(got.length).toBe(frames.length);
      for (let i = 0; i < frames.length; i++) {
        expect([got[i].id, got[i].flags, got[i].cmd]).toEqual([frames[i].id, frames[i].flags, frames[i].cmd]);
        expect(sameBytes(got[i].payload, frames[i].payload)).toBe(true);
      }
      expect(decoder.bufferedBytes).toBe(0);
    });
  });

  test("any bytes at all: frames, or a ProtocolError; never more held than received", () => {
    forAll(2000, (random) => {
      const decoder = new FrameDecoder(64 * 1024);
      // Garbage, or frames with bytes flipped, cut into chunks.
      const bytes = random.chance(0.5)
        ? random.bytes(random.int(4096))
        : (() => {
          const valid = concat(...Array.from({ length: 1 + random.int(4) }, () => encodeFrame(randomFrame(random))));
          for (let flips = random.int(4); flips > 0 && valid.length > 0; flips--) valid[random.int(valid.length)] ^= 1 << random.int(8);
          return valid;
        })();
      let received = 0;
      try {
        for (const chunk of chunked(random, bytes)) {
          received += chunk.length;
          decoder.decode(chunk, () => {});
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(received);
        }
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolError);
      }
    });
  });
});

describe("extension block (properties)", () => {
  test("any block round-trips, with the payload after it", () => {
    forAll(1000, (random) => {
      const ext = randomExtensions(random);
      const body = random.bytes(random.int(100));
      const { ext: back, body: rest } = decodeExtensions(concat(encodeExtensions(ext), body), 1 << 20);
      expect(sameBytes(rest, body)).toBe(true);
      expect(back.timeout).toBe(ext.timeout);
      expect(back.checksum).toBe(ext.checksum);
      expect(back.flowControlled).toBe(ext.flowControlled);
      for (const field of ["metadata", "trailers"] as const) {
        const sent = ext[field] ?? {};
        const got = back[field] ?? {};
        expect(Object.keys(got).sort()).toEqual(Object.keys(sent).sort());
        for (const [key, value] of Object.entries(sent)) {
          const other = got[key];
          if (typeof value === "string") expect(other).toBe(value);
          else expect(other instanceof Uint8Array && sameBytes(other, value)).toBe(true);
        }
      }
    });
  });

  test("any bytes: a block or an ExtensionError, nothing else", () => {
    forAll(3000, (random) => {
      let bytes: Uint8Array;
      if (random.chance(0.5)) {
        bytes = concat(encodeExtensions(randomExtensions(random)), random.bytes(random.int(20)));
        for (let flips = 1 + random.int(3); flips > 0; flips--) bytes[random.int(bytes.length)] ^= 1 << random.int(8);
      } else {
        bytes = random.bytes(random.int(64));
      }
      try {
        decodeExtensions(bytes, 8 * 1024);
      } catch (error) {
        expect(error).toBeInstanceOf(ExtensionError);
      }
    });
  });
});

describe("control frames (properties)", () => {
  test("any JSON-shaped message round-trips; any bytes decode or throw, and nothing else happens", () => {
    forAll(1000, (random) => {
      const message = { version: random.int(5), text: random.text(random.int(30)), list: [random.int(100), random.text(3)] };
      expect(decodeControl(encodeControl(message))).toEqual(message);
      try {
        decodeControl(random.bytes(random.int(50)));
      } catch (error) {
        expect(error).toBeInstanceOf(Error);
      }
    });
  });
});

describe("typed name prefix (properties)", () => {
  test("any name up to 255 bytes round-trips in front of any body", () => {
    forAll(1000, (random) => {
      let name = random.text(1 + random.int(60)).replace(/\u0000/g, "x");
      while (new TextEncoder().encode(name).length > 255) name = name.slice(0, -1);
      if (name === "") name = "n";
      const body = random.bytes(random.int(50));
      const payload = withPrefix(namePrefix(name), body).slice();
      const read = readName(payload);
      expect(read.name).toBe(name);
      expect(sameBytes(payload.subarray(read.offset), body)).toBe(true);
    });
  });

  test("any bytes: a name inside the payload, or invalid_argument", () => {
    forAll(3000, (random) => {
      const payload = random.bytes(random.int(40));
      try {
        const { offset } = readName(payload);
        expect(offset).toBeLessThanOrEqual(payload.length);
        expect(offset).toBe(1 + payload[0]);
      } catch (error) {
        expect(error).toBeInstanceOf(RpcError);
        expect((error as RpcError).code).toBe("invalid_argument");
      }
    });
  });
});
