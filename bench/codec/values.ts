/**
 * The codec bench's values (BENCH_CASES picks some), and the round-trip check every codec
 * passes on each before it is measured: deep equality, and for the 4 KiB field a real
 * Uint8Array back and an encoding of about 4 KiB (not base64, not an object of indices).
 */
import process from "node:process";
import { envList } from "../harness/settings.ts";
import type { Candidate } from "./codecs.ts";

export interface Case {
  name: string;
  what: string;
  value: unknown;
  /** JSON cannot carry this value. */
  binary: boolean;
}

function bytes4k(): Uint8Array {
  const data = new Uint8Array(4096);
  let x = 0x12345678;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return data;
}

const STR64 = "weft codec bench: sixty-four bytes of ASCII text, like a token!!";
if (STR64.length !== 64) throw new Error("STR64 must be 64 bytes");

const ONLY_CASES = envList(process.env.BENCH_CASES);

export const CASES: Case[] = [
  {
    name: "small",
    what: "small RPC message",
    value: { id: 12345, method: "users.get", params: { name: "ada", active: true, tags: ["a", "b"] } },
    binary: false,
  },
  {
    name: "bytes4k",
    what: "message with a 4 KiB Uint8Array",
    value: { id: 12346, method: "blobs.put", params: { name: "photo.jpg", data: bytes4k() } },
    binary: true,
  },
  {
    name: "list100",
    what: "array of 100 small objects",
    value: Array.from({ length: 100 }, (_, i) => ({
      id: 1000 + i,
      name: `user-${i}`,
      email: `user-${i}@example.com`,
      active: i % 3 !== 0,
      score: i * 1.5,
    })),
    binary: false,
  },
  { name: "str64", what: "64-byte string", value: STR64, binary: false },
].filter((c) => ONLY_CASES === null || ONLY_CASES.includes(c.name));

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Throws unless `cand` round-trips the case's value faithfully; returns the encoded bytes. */
export function check(c: Case, cand: Candidate): Uint8Array {
  const encoded = cand.codec.encode(c.value);
  const decoded = cand.codec.decode(encoded);
  if (!deepEqual(decoded, c.value)) throw new Error(`${cand.name}: ${c.name} does not round-trip`);
  if (c.binary) {
    const data = (decoded as { params: { data: unknown } }).params.data;
    if (!(data instanceof Uint8Array) || data.constructor !== Uint8Array) {
      throw new Error(`${cand.name}: the 4 KiB field came back as ${(data as object)?.constructor?.name}`);
    }
    if (encoded.length > 4096 + 128) throw new Error(`${cand.name}: 4 KiB of bytes took ${encoded.length} bytes`);
  }
  return encoded;
}
