/**
 * Payload codec benchmark: weft's JSON codec, weft's MessagePack codec (msgpackr) and CBOR
 * (cbor-x, configured the same way) on the kinds of values an RPC carries, on the runtime
 * this file is started with (codecs: codec/codecs.ts; values: codec/values.ts). No
 * sockets, no child processes: encode and decode only.
 * `node bench/run.mjs --bench=codec` runs it on all three runtimes.
 *
 *   npx bun bench/codec.ts [--json]
 *   npx deno run -A bench/codec.ts [--json]
 *   node --import ./bench/harness/node_typescript.mjs bench/codec.ts [--json]        (from the repository root)
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
import { candidates, type Candidate } from "./codec/codecs.ts";
import { type Case, CASES, check } from "./codec/values.ts";
import { turns } from "./harness/interleave.ts";
import { medianRow } from "./harness/medians.ts";
import { fmtInt, jsonOutput, log, printJson, render, runtimeLabel } from "./harness/output.ts";
import { runtime, runtimeVersion } from "./harness/runtime.ts";
import { runBench } from "./harness/session.ts";
import { readSettings } from "./harness/settings.ts";

const { seconds: SECONDS, warmup: WARMUP, slice: SLICE, rounds: ROUNDS } = readSettings({
  seconds: 0.5,
  warmup: 0.1,
  slice: 0.05,
});
/** Calls between clock reads. */
const BATCH = 16;
/** Hard cap per half slice, so every loop ends even if the clock misbehaves. */
const MAX_OPS_PER_HALF = 5_000_000;

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
  // Each turn is half encoding, half decoding; who goes first rotates slice by slice.
  for (const i of turns(slices, active.length)) {
    const [eo, es] = run(encoders[i], SECONDS / slices / 2);
    enc[i][0] += eo;
    enc[i][1] += es;
    const [dO, ds] = run(decoders[i], SECONDS / slices / 2);
    dec[i][0] += dO;
    dec[i][1] += ds;
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
    [0, 1],
  );
}

await runBench(async () => {
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
  const rows: Row[] = [...samples.values()].map((rounds) => medianRow(rounds, "rtPerSec"));
  for (const r of rows) {
    const base = rows.find((b) => b.case === r.case && b.codec === "json");
    if (base === undefined) continue;
    r.rtVsJson = r.rtPerSec / base.rtPerSec;
    r.bytesVsJson = r.bytes / base.bytes;
  }
  const native = Object.fromEntries(list.filter((c) => c.native !== null).map((c) => [c.name, c.native]));
  if (jsonOutput) {
    printJson({
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
    });
    return;
  }
  const nativeText = Object.entries(native).map(([name, on]) => `${name} native ${on ? "on" : "off"}`).join(", ");
  console.log(
    `\npayload codecs, ${runtimeLabel()} (${SECONDS} s per codec and case, ${SLICE} s slices` +
      `${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ""}${nativeText === "" ? "" : `; ${nativeText}`})`,
  );
  for (const c of CASES) console.log(`  ${c.name.padEnd(8)} ${c.what}`);
  console.log(table(rows));
  if (CASES.some((c) => c.binary)) console.log("(bytes4k: JSON cannot carry a Uint8Array, so that case has no JSON row)");
  if (sink === 0.5) console.log(""); // keeps `sink` alive
});

