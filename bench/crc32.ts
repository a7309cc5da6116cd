/**
 * CRC-32 throughput: src/wire/crc32.ts (slice-by-16) against a byte-at-a-time table loop, a
 * slice-by-8 variant, and the runtime's native node:zlib crc32 (a ceiling, not usable
 * from src/), on 1 MiB and on 64-byte inputs. Runs in about 4 s.
 *
 *   npx bun bench/crc32.ts [--json]
 *   npx deno run -A bench/crc32.ts [--json]
 *   node --import ./bench/harness/node_typescript.mjs bench/crc32.ts [--json]        (from the repository root)
 *
 * The rows of one size take turns in BENCH_SLICE slices, so their ratios see the same
 * machine load; each row's figure is the median of its slices. MB/s is 10^6 bytes/s.
 *
 * Env: BENCH_SECONDS=1.5 (measured seconds per size), BENCH_WARMUP=0.3, BENCH_SLICE=0.05
 */
import * as zlib from "node:zlib";
import { crc32 } from "../src/wire/crc32.ts";
import { median } from "./harness/medians.ts";
import { jsonOutput, printJson } from "./harness/output.ts";
import { runtime, runtimeVersion } from "./harness/runtime.ts";
import { readSettings } from "./harness/settings.ts";

const { seconds: SECONDS, warmup: WARMUP, slice: SLICE } = readSettings({ seconds: 1.5, warmup: 0.3, slice: 0.05 });

// ---- the compared implementations -------------------------------------------------

function makeTables(count: number): Int32Array {
  const t = new Int32Array(count * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b];
    for (let k = 1; k < count; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  return t;
}

const T1 = makeTables(1);
const T8 = makeTables(8);

/** The textbook loop: one table lookup per byte, each depending on the previous one. */
function crc32Simple(bytes: Uint8Array, seed = 0): number {
  const t = T1;
  let c = ~seed;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Slice-by-8: 8 KiB of tables, eight bytes per step (the usual choice in C). */
function crc32Slice8(bytes: Uint8Array, seed = 0): number {
  const t = T8;
  let c = ~seed;
  const n = bytes.length;
  const end = n - (n & 7);
  let i = 0;
  for (; i < end; i += 8) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t[1792 + (c & 0xff)] ^ t[1536 + ((c >>> 8) & 0xff)] ^ t[1280 + ((c >>> 16) & 0xff)] ^ t[1024 + (c >>> 24)] ^
      t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// deno-lint-ignore no-explicit-any
const nativeCrc32 = (zlib as any).crc32 as ((data: Uint8Array, value?: number) => number) | undefined;

interface Row {
  name: string;
  fn: (bytes: Uint8Array) => number;
}

const rows: Row[] = [
  { name: "simple (byte table)", fn: crc32Simple },
  { name: "slice-by-8", fn: crc32Slice8 },
  { name: "weft (slice-by-16)", fn: crc32 },
];
if (typeof nativeCrc32 === "function") rows.push({ name: "native node:zlib", fn: (b) => nativeCrc32(b) });

// ---- measurement --------------------------------------------------------------------

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

let sink = 0;

/** Runs `fn` on `input` for about `ms` (in batches of ~64 KiB), returns bytes/s. */
function runFor(fn: (bytes: Uint8Array) => number, input: Uint8Array, ms: number): number {
  const batch = Math.max(1, Math.floor(65536 / input.length));
  let bytes = 0;
  const start = performance.now();
  let now = start;
  do {
    for (let k = 0; k < batch; k++) sink ^= fn(input);
    bytes += batch * input.length;
    now = performance.now();
  } while (now - start < ms);
  return bytes / ((now - start) / 1000);
}

interface Result {
  size: number;
  row: string;
  mbps: number;
  vsSimple: number;
}

function measureSize(size: number): Result[] {
  const input = randomBytes(size);
  const expected = crc32Simple(input);
  for (const row of rows) {
    if (row.fn(input) !== expected) throw new Error(`${row.name} disagrees with the simple loop on ${size} bytes`);
  }
  for (const row of rows) runFor(row.fn, input, (WARMUP * 1000) / rows.length);
  const samples = rows.map(() => [] as number[]);
  const deadline = performance.now() + SECONDS * 1000;
  while (performance.now() < deadline) {
    rows.forEach((row, i) => samples[i].push(runFor(row.fn, input, (SLICE * 1000) / rows.length)));
  }
  const mbps = samples.map((s) => median(s) / 1e6);
  return rows.map((row, i) => ({ size, row: row.name, mbps: mbps[i], vsSimple: mbps[i] / mbps[0] }));
}

const results = [...measureSize(1024 * 1024), ...measureSize(64)];
if (sink === 0.5) console.log(sink); // keep the results alive

if (jsonOutput) {
  printJson({ runtime, version: runtimeVersion(), results });
} else {
  console.log(`crc32 on ${runtime} ${runtimeVersion()} (${SECONDS}s per size, slices of ${SLICE}s)`);
  console.log("size     implementation          MB/s   x simple");
  for (const r of results) {
    const size = r.size >= 1024 * 1024 ? "1 MiB" : `${r.size} B`;
    console.log(`${size.padEnd(8)} ${r.row.padEnd(22)} ${r.mbps.toFixed(0).padStart(6)}   ${r.vsSimple.toFixed(2).padStart(6)}`);
  }
}
