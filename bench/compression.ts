/**
 * Payload compression cost: src/wire/compression.ts (CompressionStream / DecompressionStream)
 * on JSON-like text and on random bytes, per format, against the runtime's synchronous
 * node:zlib doing the same work (a reference for how much of the time is the async
 * stream machinery, not usable from src/). Runs in about 10 s.
 *
 *   npx bun bench/compression.ts [--json]
 *   npx deno run -A bench/compression.ts [--json]
 *   node --import ./bench/harness/node_typescript.mjs bench/compression.ts [--json]        (from the repository root)
 *
 * Each format first warms up (BENCH_WARMUP s of 1 KiB and 64 KiB round trips). Every cell
 * then runs each operation one call after another (each awaited: this is latency, not
 * throughput under concurrency) for BENCH_SECONDS, at least 5 times, after one warm-up call.
 * Columns:
 *   ratio    compressed size / original size (each runtime has its own zlib and level)
 *   comp     µs per compress();  decomp  µs per decompress()  (medians of single calls)
 *   rt       comp + decomp: the round trip a compressed call adds;  MB/s = size / rt
 *   sync     µs for the same round trip with node:zlib's *Sync functions
 *   fixed%   share of rt that is fixed per-call cost: the round trip of a 16-byte payload
 *            (zlib set-up, stream set-up, promise and thread hops; the lower of two
 *            measurements, one before and one after the cells) / rt
 *
 * Env: BENCH_SECONDS=0.05 (per measured operation and cell), BENCH_WARMUP=0.4 (per format),
 *      BENCH_KEEP_AWAKE=1 (as in unary.ts: keeps idle vCPUs from halting, which matters
 *      for Node, whose CompressionStream hops to the libuv thread pool and back)
 */
import * as zlib from "node:zlib";
import { compress, type CompressionFormat, decompress } from "../src/wire/compression.ts";
import { killChildren } from "./harness/children.ts";
import { startSpinners } from "./harness/keep_awake.ts";
import { median } from "./harness/medians.ts";
import { jsonOutput, printJson } from "./harness/output.ts";
import { runtime, runtimeVersion } from "./harness/runtime.ts";
import { readSettings } from "./harness/settings.ts";

// BENCH_SLICE does not apply: each cell times single calls.
const { seconds: SECONDS, warmup: WARMUP } = readSettings({ seconds: 0.05, warmup: 0.4, slice: 0.05 });

const FORMATS: CompressionFormat[] = ["gzip", "deflate", "deflate-raw"];
const KiB = 1024;
const MiB = 1024 * KiB;
const CELLS: { kind: "json" | "random"; size: number }[] = [
  ...[64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, MiB].map((size) => ({ kind: "json" as const, size })),
  ...[KiB, 64 * KiB, MiB].map((size) => ({ kind: "random" as const, size })),
];

// ---- payloads -----------------------------------------------------------------------

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** An API-response-like JSON array of records, cut to `size` bytes. */
function jsonText(size: number): Uint8Array {
  const next = rng(42);
  const words = ["alpha", "beta", "gamma", "delta", "omega", "north", "south", "active", "pending", "archived"];
  const pick = () => words[Math.floor(next() * words.length)];
  let text = "[";
  for (let id = 1; text.length < size; id++) {
    const user = Math.floor(next() * 100000);
    text += JSON.stringify({
      id,
      name: `user-${user}`,
      email: `user${user}@example.com`,
      active: next() < 0.5,
      score: Math.round(next() * 10000) / 10000,
      tags: [pick(), pick()],
      status: pick(),
      created: new Date(1.7e12 + Math.floor(next() * 3e10)).toISOString(),
    }) + ",";
  }
  return new TextEncoder().encode(text).slice(0, size);
}

function randomBytes(size: number): Uint8Array {
  const next = rng(7);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = next() * 256;
  return out;
}

// ---- the synchronous reference --------------------------------------------------------

const syncFns: Record<CompressionFormat, [(b: Uint8Array) => Uint8Array, (b: Uint8Array) => Uint8Array]> = {
  "gzip": [zlib.gzipSync, zlib.gunzipSync],
  "deflate": [zlib.deflateSync, zlib.inflateSync],
  "deflate-raw": [zlib.deflateRawSync, zlib.inflateRawSync],
};

// ---- measurement ----------------------------------------------------------------------

/**
 * µs per call of `op`: the median of its calls, run back to back for SECONDS (at least 5
 * times) after one warm-up call. The median keeps GC pauses and scheduler hiccups out.
 */
async function timeOp(op: () => unknown): Promise<number> {
  await op();
  const samples: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  let now = performance.now();
  while (samples.length < 5 || now < until) {
    const start = now;
    await op();
    now = performance.now();
    samples.push((now - start) * 1000);
  }
  return median(samples);
}

interface Result {
  format: CompressionFormat;
  kind: "json" | "random";
  size: number;
  compressed: number;
  ratio: number;
  compressUs: number;
  decompressUs: number;
  roundTripUs: number;
  mbps: number;
  syncUs: number;
  fixedShare: number;
}

/** Round trips on 1 KiB and 64 KiB of JSON for WARMUP seconds, so the JITs settle first. */
async function warmUp(format: CompressionFormat): Promise<void> {
  const until = performance.now() + WARMUP * 1000;
  const payloads = [jsonText(KiB), jsonText(64 * KiB)];
  while (performance.now() < until) {
    for (const payload of payloads) await decompress(await compress(payload, format), format, payload.length);
  }
}

/** µs per round trip of a 16-byte payload: the fixed per-call cost. */
async function fixedCost(format: CompressionFormat): Promise<number> {
  const tiny = jsonText(16);
  const tinyCompressed = await compress(tiny, format);
  return await timeOp(() => compress(tiny, format)) + await timeOp(() => decompress(tinyCompressed, format, 16));
}

/** The same with node:zlib's *Sync functions. */
async function syncFixedCost(format: CompressionFormat): Promise<number> {
  const [syncCompress, syncDecompress] = syncFns[format];
  const tiny = jsonText(16);
  const tinyCompressed = syncCompress(tiny);
  return await timeOp(() => syncCompress(tiny)) + await timeOp(() => syncDecompress(tinyCompressed));
}

async function measureFormat(
  format: CompressionFormat,
): Promise<{ fixedUs: number; syncFixedUs: number; results: Result[] }> {
  const [syncCompress, syncDecompress] = syncFns[format];
  await warmUp(format);
  const fixedUs = await fixedCost(format);
  const results: Result[] = [];
  for (const { kind, size } of CELLS) {
    const payload = kind === "json" ? jsonText(size) : randomBytes(size);
    const packed = await compress(payload, format);
    const back = await decompress(packed, format, size);
    if (back.length !== size || back.some((b, i) => b !== payload[i])) throw new Error(`${format} round trip failed on ${size}`);
    const compressUs = await timeOp(() => compress(payload, format));
    const decompressUs = await timeOp(() => decompress(packed, format, size));
    const syncPacked = syncCompress(payload);
    const syncUs = await timeOp(() => syncCompress(payload)) + await timeOp(() => syncDecompress(syncPacked));
    const roundTripUs = compressUs + decompressUs;
    results.push({
      format,
      kind,
      size,
      compressed: packed.length,
      ratio: packed.length / size,
      compressUs,
      decompressUs,
      roundTripUs,
      mbps: size / roundTripUs,
      syncUs,
      fixedShare: 0,
    });
  }
  // Measured again after the cells; the lower figure is the less disturbed one.
  const fixed = Math.min(fixedUs, await fixedCost(format));
  for (const r of results) r.fixedShare = Math.min(1, fixed / r.roundTripUs);
  return { fixedUs: fixed, syncFixedUs: await syncFixedCost(format), results };
}

function sizeLabel(size: number): string {
  return size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size} B`;
}

const awake = await startSpinners();
const all: { format: CompressionFormat; fixedUs: number; syncFixedUs: number; results: Result[] }[] = [];
for (const format of FORMATS) all.push({ format, ...(await measureFormat(format)) });
killChildren();

if (jsonOutput) {
  printJson({ runtime, version: runtimeVersion(), formats: all });
} else {
  const extra = awake > 0 ? `, ${awake} keep-awake loops` : "";
  console.log(`compression on ${runtime} ${runtimeVersion()} (${SECONDS}s per operation and cell${extra})`);
  for (const { format, fixedUs, syncFixedUs, results } of all) {
    console.log(`\n${format}: fixed cost (16-byte round trip) ${fixedUs.toFixed(1)} µs (sync zlib: ${syncFixedUs.toFixed(1)} µs)`);
    console.log("payload        compressed  ratio     comp µs   decomp µs      rt µs    MB/s    sync µs  fixed%");
    for (const r of results) {
      console.log(
        `${(r.kind + " " + sizeLabel(r.size)).padEnd(14)} ${String(r.compressed).padStart(10)}  ${r.ratio.toFixed(3)}  ` +
          `${r.compressUs.toFixed(1).padStart(10)}  ${r.decompressUs.toFixed(1).padStart(10)}  ${r.roundTripUs.toFixed(1).padStart(9)}  ` +
          `${r.mbps.toFixed(0).padStart(6)}  ${r.syncUs.toFixed(1).padStart(9)}  ${(r.fixedShare * 100).toFixed(0).padStart(5)}%`,
      );
    }
  }
}
