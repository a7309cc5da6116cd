/**
 * Payload codec benchmark: weft's JSON codec, weft's MessagePack codec (msgpackr) and CBOR
 * (cbor-x, configured the same way) on the kinds of values an RPC carries, on the runtime
 * this file is started with. No sockets, no child processes: encode and decode only.
 * `node bench/run.mjs --bench=codec` runs it on all three runtimes.
 *
 *   npx bun bench/codec.ts [--json]
 *   npx deno run -A bench/codec.ts [--json]
 *   node --import tsx bench/codec.ts [--json]        (from the repository root)
 *
 * Cases:
 *   small    { id: 12345, method: "users.get", params: { name: "ada", active: true, tags: ["a", "b"] } }
 *   bytes4k  the same kind of call with a 4 KiB Uint8Array in params (JSON cannot carry it: skipped)
 *   list100  an array of 100 small objects (id, name, email, active, score), a list reply
 *   str64    a 64-byte ASCII string on its own
 *
 * For each case the codecs take turns in BENCH_SLICE slices, half of each slice encoding
 * the value again and again, half decoding its encoded bytes, until each codec has had
 * BENCH_SECONDS; the ratios to JSON therefore see the same machine load. "enc/s" and
 * "dec/s" are operations per second of each half; "rt/s" is encode + decode of one value
 * (1 / (1/enc + 1/dec)). "bytes" is the encoded size. Each decode gets a fresh Uint8Array
 * view of the encoded bytes, as each frame's payload is. Before measuring, every codec's
 * round trip is checked (deep equality; the 4 KiB field must come back as a Uint8Array and
 * the encoding must be about 4 KiB, not base64 or an object of indices).
 *
 * cbor-x is optional: weft depends on msgpackr only. Without cbor-x in node_modules its
 * rows are skipped (`npm install --no-save cbor-x` to compare). Both libraries load their
 * native string decoders (msgpackr-extract, cbor-extract) on Node, Bun and Deno when those
 * are installed; the header says whether they are on. cbor-extract is kept off on Bun and
 * Deno, where it is broken (see cborCandidate). MSGPACKR_NATIVE_ACCELERATION_DISABLED=true
 * and CBOR_NATIVE_ACCELERATION_DISABLED=true measure the pure-JS paths (what browsers and
 * Workers run).
 *
 * Env:
 *   BENCH_SECONDS=0.5   measured seconds per codec and case (split between encode and decode)
 *   BENCH_WARMUP=0.1    warm-up seconds per codec and case
 *   BENCH_SLICE=0.05    seconds per interleaved slice
 *   BENCH_ROUNDS=1      repeat everything, report per-row medians
 *   BENCH_CASES=small,list100      only these cases
 *   BENCH_CODECS=json,msgpackr     only these codecs
 */
import process from "node:process";
import type { Codec } from "../src/codec/codec.ts";
import { json as jsonCodec } from "../src/codec/json.ts";
import { msgpack } from "../src/codec/msgpack.ts";
import { envNumber, median, runtime, runtimeVersion } from "./common.ts";

const jsonOut = process.argv.includes("--json");
const SECONDS = envNumber(process.env.BENCH_SECONDS, 0.5);
const WARMUP = envNumber(process.env.BENCH_WARMUP, 0.1);
const SLICE = envNumber(process.env.BENCH_SLICE, 0.05);
const ROUNDS = Math.floor(envNumber(process.env.BENCH_ROUNDS, 1));
const ONLY_CASES = listEnv(process.env.BENCH_CASES);
const ONLY_CODECS = listEnv(process.env.BENCH_CODECS);
/** Calls between clock reads. */
const BATCH = 16;
/** Hard cap per half slice, so every loop ends even if the clock misbehaves. */
const MAX_OPS_PER_HALF = 5_000_000;

function listEnv(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === "") return null;
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function log(message: string): void {
  // Progress goes to stderr, so --json output stays clean.
  console.error(message);
}

// ---- the values -----------------------------------------------------------------------

interface Case {
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

const CASES: Case[] = [
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

if (STR64.length !== 64) throw new Error("STR64 must be 64 bytes");

// ---- the codecs -----------------------------------------------------------------------

interface Candidate {
  name: string;
  codec: Codec;
  /** Whether the library's native string decoder is on (null: no such thing). */
  native: boolean | null;
}

/**
 * cbor-x wrapped the way src/codec/msgpack.ts wraps msgpackr: standard CBOR (byte strings
 * for Uint8Array, no tag 64; maps for objects, no records), plain Uint8Array views in and
 * out. Null when cbor-x is not installed.
 */
async function cborCandidate(): Promise<Candidate | null> {
  // deno-lint-ignore no-explicit-any
  let lib: any;
  if (runtime !== "node") {
    // cbor-x's native string decoder (cbor-extract 2.2) misdecodes plain maps on Bun
    // ("Unexpected end of buffer" on list100) and kills Deno ("symbol lookup error"):
    // measure its pure-JS decoder there. The library reads this when it is imported.
    process.env.CBOR_NATIVE_ACCELERATION_DISABLED = "true";
  }
  try {
    const specifier = "cbor-x"; // not a literal import: weft does not depend on cbor-x
    lib = await import(specifier);
  } catch {
    return null;
  }
  const cbor = new lib.Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
  const view = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return {
    name: "cbor-x",
    native: Boolean(lib.isNativeAccelerationEnabled),
    codec: {
      name: "cbor",
      encode(value: unknown): Uint8Array {
        const out: Uint8Array = cbor.encode(value);
        return out.constructor === Uint8Array ? out : view(out);
      },
      decode(bytes: Uint8Array): unknown {
        return cbor.decode(view(bytes));
      },
    },
  };
}

async function candidates(): Promise<{ list: Candidate[]; skipped: string[] }> {
  const msgpackr = await import("msgpackr");
  const list: Candidate[] = [
    { name: "json", codec: jsonCodec, native: null },
    { name: "msgpackr", codec: msgpack, native: Boolean(msgpackr.isNativeAccelerationEnabled) },
  ];
  const skipped: string[] = [];
  const cbor = await cborCandidate();
  if (cbor === null) skipped.push("cbor-x (not installed: npm install --no-save cbor-x)");
  else list.push(cbor);
  return { list: list.filter((c) => ONLY_CODECS === null || ONLY_CODECS.includes(c.name)), skipped };
}

// ---- checks ---------------------------------------------------------------------------

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

/** Throws unless `codec` round-trips the case's value faithfully. */
function check(c: Case, cand: Candidate): Uint8Array {
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

// ---- measurement ----------------------------------------------------------------------

let sink = 0;

/** Runs `fn` for about `seconds` (at most MAX_OPS_PER_HALF calls); returns [calls, seconds]. */
function run(fn: () => void, seconds: number): [number, number] {
  const start = performance.now();
  const end = start + seconds * 1000;
  let ops = 0;
  let now = start;
  do {
    for (let i = 0; i < BATCH; i++) fn();
    ops += BATCH;
    now = performance.now();
  } while (now < end && ops < MAX_OPS_PER_HALF);
  return [ops, (now - start) / 1000];
}

export interface Row {
  case: string;
  codec: string;
  bytes: number;
  encPerSec: number;
  decPerSec: number;
  /** Encode + decode of one value per second: 1 / (1/enc + 1/dec). */
  rtPerSec: number;
  /** rtPerSec / JSON's rtPerSec in the same case (null: no JSON row). */
  rtVsJson: number | null;
  /** bytes / JSON's bytes (null: no JSON row). */
  bytesVsJson: number | null;
  /** With BENCH_ROUNDS > 1: rt/s of each round (the row holds medians). */
  rounds?: number[];
}

function measureCase(c: Case, cands: Candidate[]): Row[] {
  const active = cands.filter((cand) => !(c.binary && cand.name === "json"));
  const encoded = active.map((cand) => check(c, cand));
  const encoders = active.map((cand) => () => {
    sink += cand.codec.encode(c.value).length;
  });
  const decoders = active.map((cand, i) => {
    const { buffer, byteOffset, byteLength } = encoded[i];
    return () => {
      // A fresh view each time, as weft's frame decoder hands each payload over.
      if (cand.codec.decode(new Uint8Array(buffer, byteOffset, byteLength)) !== undefined) sink++;
    };
  });
  for (let i = 0; i < active.length; i++) {
    run(encoders[i], WARMUP / 2);
    run(decoders[i], WARMUP / 2);
  }
  const enc = active.map(() => [0, 0]);
  const dec = active.map(() => [0, 0]);
  const slices = Math.max(1, Math.round(SECONDS / SLICE));
  for (let s = 0; s < slices; s++) {
    // Rotate who goes first, so no codec always follows the same one.
    for (let k = 0; k < active.length; k++) {
      const i = (s + k) % active.length;
      const [eo, es] = run(encoders[i], SECONDS / slices / 2);
      enc[i][0] += eo;
      enc[i][1] += es;
      const [dO, ds] = run(decoders[i], SECONDS / slices / 2);
      dec[i][0] += dO;
      dec[i][1] += ds;
    }
  }
  return active.map((cand, i) => {
    const encPerSec = enc[i][0] / enc[i][1];
    const decPerSec = dec[i][0] / dec[i][1];
    return {
      case: c.name,
      codec: cand.name,
      bytes: encoded[i].length,
      encPerSec,
      decPerSec,
      rtPerSec: 1 / (1 / encPerSec + 1 / decPerSec),
      rtVsJson: null,
      bytesVsJson: null,
    };
  });
}

function medianRow(rounds: Row[]): Row {
  if (rounds.length === 1) return rounds[0];
  const m = (pick: (r: Row) => number) => median(rounds.map(pick));
  return {
    ...rounds[0],
    encPerSec: m((r) => r.encPerSec),
    decPerSec: m((r) => r.decPerSec),
    rtPerSec: m((r) => r.rtPerSec),
    rounds: rounds.map((r) => Math.round(r.rtPerSec)),
  };
}

// ---- report ---------------------------------------------------------------------------

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function render(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

const ratio = (x: number | null) => (x === null ? "-" : `${x.toFixed(2)}x`);

function table(rows: Row[]): string {
  return render(
    ["case", "codec", "bytes", "enc/s", "dec/s", "rt/s", "rt vs json", "bytes vs json"],
    rows.map((r) => [
      r.case,
      r.codec,
      String(r.bytes),
      fmtInt(r.encPerSec),
      fmtInt(r.decPerSec),
      fmtInt(r.rtPerSec),
      ratio(r.rtVsJson),
      ratio(r.bytesVsJson),
    ]),
  );
}

// ---- main -----------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const { list, skipped } = await candidates();
  for (const s of skipped) log(`skipped: ${s}`);
  if (list.length === 0 || CASES.length === 0) throw new Error("nothing to measure (BENCH_CASES / BENCH_CODECS)");
  const samples = new Map<string, Row[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) log(`round ${round}/${ROUNDS}`);
    for (const c of CASES) {
      log(`  ${c.name}: ${list.filter((x) => !(c.binary && x.name === "json")).map((x) => x.name).join(", ")}`);
      for (const r of measureCase(c, list)) {
        const key = `${r.case}/${r.codec}`;
        if (!samples.has(key)) samples.set(key, []);
        samples.get(key)!.push(r);
      }
    }
  }
  const rows = [...samples.values()].map(medianRow);
  for (const r of rows) {
    const base = rows.find((b) => b.case === r.case && b.codec === "json");
    if (base === undefined) continue;
    r.rtVsJson = r.rtPerSec / base.rtPerSec;
    r.bytesVsJson = r.bytes / base.bytes;
  }
  const native = Object.fromEntries(list.filter((c) => c.native !== null).map((c) => [c.name, c.native]));
  if (jsonOut) {
    console.log(JSON.stringify({
      bench: "codec",
      runtime,
      version: runtimeVersion(),
      seconds: SECONDS,
      warmup: WARMUP,
      slice: SLICE,
      rounds: ROUNDS,
      native,
      skipped,
      rows,
      elapsedSeconds: (Date.now() - started) / 1000,
    }));
    return;
  }
  const nativeText = Object.entries(native).map(([name, on]) => `${name} native ${on ? "on" : "off"}`).join(", ");
  console.log(
    `\npayload codecs, ${runtime} ${runtimeVersion()} (${SECONDS} s per codec and case, ${SLICE} s slices` +
      `${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ""}${nativeText === "" ? "" : `; ${nativeText}`})`,
  );
  for (const c of CASES) console.log(`  ${c.name.padEnd(8)} ${c.what}`);
  console.log(table(rows));
  if (CASES.some((c) => c.binary)) console.log("(bytes4k: JSON cannot carry a Uint8Array, so that case has no JSON row)");
  if (sink === 0.5) console.log(""); // keeps `sink` alive
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
