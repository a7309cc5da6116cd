/**
 * src/wire/crc32.ts against known vectors and against the textbook byte-at-a-time loop written
 * here, on every length around its 16-byte steps, on unaligned views, and in pieces.
 */
import { describe, expect, test } from "bun:test";
import { crc32 } from "../src/wire/crc32.ts";
import { patterned, text } from "./support/bytes.ts";

/** The reference: the bitwise definition, one bit at a time (no tables to get wrong). */
function referenceCrc32(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (const byte of bytes) {
    c ^= byte;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

describe("crc32", () => {
  test("known vectors", () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(text("123456789"))).toBe(0xcbf43926);
    expect(crc32(text("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
    expect(crc32(text("a"))).toBe(0xe8b7be43);
    expect(crc32(new Uint8Array(32))).toBe(0x190a55ad); // 32 zero bytes
    expect(crc32(new Uint8Array(32).fill(0xff))).toBe(0xff6cab0b);
  });

  test("the reference implementation agrees with the known vectors", () => {
    expect(referenceCrc32(text("123456789"))).toBe(0xcbf43926);
    expect(referenceCrc32(text("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
  });

  test("always an unsigned 32-bit integer", () => {
    for (let n = 0; n < 200; n++) {
      const value = crc32(patterned(n, n + 1));
      expect(Number.isInteger(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(0xffffffff);
    }
  });

  test("every length 0..64 (and a few past the 16-byte steps) matches the reference", () => {
    const data = patterned(300, 7);
    const lengths = [...Array.from({ length: 65 }, (_, n) => n), 127, 128, 129, 255, 256, 257, 300];
    for (const n of lengths) {
      const bytes = data.subarray(0, n);
      expect(crc32(bytes)).toBe(referenceCrc32(bytes));
    }
  });

  test("all byte values", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(crc32(bytes)).toBe(referenceCrc32(bytes));
    expect(crc32(bytes)).toBe(0x29058c73);
  });

  test("unaligned subarray views of a shared buffer", () => {
    const data = patterned(1000, 3);
    for (let start = 0; start < 20; start++) {
      for (const length of [0, 1, 7, 15, 16, 17, 31, 33, 100, 500]) {
        const view = data.subarray(start, start + length);
        expect(crc32(view)).toBe(referenceCrc32(view));
        expect(crc32(view)).toBe(crc32(view.slice())); // same as a fresh, aligned copy
      }
    }
    // A view over a larger buffer must not read past its end.
    const inner = new Uint8Array(data.buffer, 5, 23);
    expect(crc32(inner)).toBe(referenceCrc32(data.slice(5, 28)));
  });

  test("seeding continues a CRC over pieces", () => {
    const a = text("123456");
    const b = text("789");
    expect(crc32(b, crc32(a))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0), 0xcbf43926)).toBe(0xcbf43926);

    const data = patterned(1000, 11);
    const whole = crc32(data);
    for (const cut of [0, 1, 5, 16, 17, 63, 64, 500, 999, 1000]) {
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(whole);
    }
    // Many irregular pieces.
    let crc = 0;
    let offset = 0;
    for (let step = 1; offset < data.length; step = (step * 7 + 3) % 41 + 1) {
      crc = crc32(data.subarray(offset, offset + step), crc);
      offset += step;
    }
    expect(crc).toBe(whole);
    expect(crc32(concat(text("The quick brown fox "), text("jumps over the lazy dog")))).toBe(0x414fa339);
  });

  test("a seed matches the reference's seed", () => {
    const data = patterned(77, 5);
    for (const seed of [0, 1, 0xcbf43926, 0xffffffff, 0x80000000]) {
      expect(crc32(data, seed)).toBe(referenceCrc32(data, seed));
    }
  });

  test("1 MiB of random bytes matches the reference", () => {
    const data = patterned(1024 * 1024, 12345);
    expect(crc32(data)).toBe(referenceCrc32(data));
    expect(crc32(data.subarray(3, data.length - 5))).toBe(referenceCrc32(data.subarray(3, data.length - 5)));
  });

  test("detects a single flipped bit anywhere", () => {
    const data = patterned(64, 9);
    const good = crc32(data);
    for (let i = 0; i < data.length; i++) {
      const bad = data.slice();
      bad[i] ^= 1 << (i % 8);
      expect(crc32(bad)).not.toBe(good);
    }
  });
});
