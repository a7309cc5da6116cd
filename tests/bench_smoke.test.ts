/**
 * The socket benches (bench/unary.ts, typed.ts, stream.ts, websocket.ts, channel.ts, cluster.ts, memory.ts) still run on the
 * runtime under test: each one once, through bench/run.mjs as a user runs it, with tiny
 * settings and --json, must print the rows it promises with positive rates. Not a
 * measurement (0.2 s per row says nothing about speed): a check that the servers start,
 * every row measures, and the JSON keeps its shape.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtime } from "./support/runtime.ts";

const root = fileURLToPath(new URL("../", import.meta.url));

/** What every run gets: tiny settings, and no BENCH_* variable from the caller's environment. */
const TINY = { BENCH_SECONDS: "0.2", BENCH_WARMUP: "0.05", BENCH_ROUNDS: "1" };

/** A kill timer per run, below the test's own timeout. */
const RUN_MS = 30_000;
const TEST_MS = 40_000;

interface BenchRow {
  mode: string;
  bench?: string;
  inFlight?: number;
  concurrency?: number;
  callsPerSec?: number;
  opsPerSec?: number;
  ratio?: number;
}

/** Runs `node bench/run.mjs --bench=<bench> <runtime> --json`; returns this runtime's result. */
async function runBench(bench: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("BENCH_")));
  const child = spawn("node", ["bench/run.mjs", `--bench=${bench}`, runtime, "--json"], {
    cwd: root,
    env: { ...clean, ...TINY, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk) => (out += chunk));
  child.stderr!.on("data", (chunk) => (err += chunk));
  const code = await new Promise<number | null>((resolve) => {
    // run.mjs passes SIGTERM on to the bench, whose servers exit when their stdin closes.
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3000).unref?.();
    }, RUN_MS);
    child.on("exit", (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  expect(code === 0 ? "exit 0" : `exit ${code}\n--- stderr ---\n${err}\n--- stdout ---\n${out}`).toBe("exit 0");
  const results = JSON.parse(out) as Array<Record<string, unknown>>;
  expect(results.length).toBe(1);
  expect(results[0].runtime).toBe(runtime);
  return results[0];
}

/** Checks the rows' names (in order) and that each has a positive rate, and each row but the references (`bases`) a ratio to one. */
function expectRows(result: Record<string, unknown>, names: string[], bases = ["raw"]): void {
  const rows = result.rows as BenchRow[];
  const nameOf = (r: BenchRow) => `${r.mode}${r.bench === undefined ? "" : `-${r.bench}`}:${r.inFlight ?? r.concurrency}`;
  expect(rows.map(nameOf)).toEqual(names);
  for (const r of rows) {
    const rate = r.callsPerSec ?? r.opsPerSec ?? NaN;
    expect(`${nameOf(r)}: ${Number.isFinite(rate) && rate > 0 ? "positive" : rate}`).toBe(`${nameOf(r)}: positive`);
    if (!bases.includes(r.mode)) expect(typeof r.ratio === "number" && r.ratio > 0).toBe(true);
  }
}

describe(`the socket benches on ${runtime}`, () => {
  test("unary: every row", async () => {
    const result = await runBench("unary", {});
    expectRows(result, [
      "raw:1",
      "promise-rpc:1",
      "weft-nonblocking:1",
      "weft-blocking:1",
      "raw:64",
      "promise-rpc:64",
      "weft-nonblocking:64",
      "weft-blocking:64",
      "raw-conns:64",
      "weft-conns:64",
    ], ["raw", "raw-conns"]);
    const checks = result.checks as { manyRatio: unknown; connsRatio: unknown };
    expect(typeof checks.manyRatio).toBe("number");
    expect(typeof checks.connsRatio).toBe("number");
  }, TEST_MS);

  test("typed: raw and the three typed rows at 64 in flight", async () => {
    const result = await runBench("typed", { BENCH_ONLY: "raw:64,typed:64,typed-novalid:64,typed-msgpack:64" });
    expectRows(result, ["raw:64", "typed:64", "typed-novalid:64", "typed-msgpack:64"]);
    expect(result.typedInputBytes).toBe(55);
  }, TEST_MS);

  test("stream: server streaming and the 1 MiB echo at 1, cut-through and store-and-forward", async () => {
    const result = await runBench("stream", {
      BENCH_ONLY: "raw-stream:1,weft-stream:1,raw-1mib:1,raw-msg-1mib:1,weft-1mib:1",
      BENCH_STREAM_LEN: "5000",
    });
    expectRows(result, ["raw-stream:1", "weft-stream:1", "raw-1mib:1", "raw-msg-1mib:1", "weft-1mib:1"]);
    expect(result.streamLength).toBe(5000);
    const weft = (result.rows as BenchRow[]).find((r) => r.mode === "weft" && r.bench === "1mib") as { msgRatio?: number };
    expect(typeof weft.msgRatio === "number" && weft.msgRatio > 0).toBe(true);
  }, TEST_MS);

  test("channel: a bare connection, a channel, and round-robin over three servers at 64 in flight", async () => {
    const result = await runBench("channel", { BENCH_ONLY: "connection:64,channel:64,channel-rr3:64" });
    expectRows(result, ["connection:64", "channel:64", "channel-rr3:64"], ["connection"]);
    expect(typeof (result.checks as { channelMany: unknown }).channelMany).toBe("number");
  }, TEST_MS);

  test("websocket: raw, weft and capnweb at 64 in flight", async () => {
    const result = await runBench("websocket", { BENCH_ONLY: "raw:64,weft:64,capnweb:64" });
    expectRows(result, ["raw:64", "weft:64", "capnweb:64"]);
    expect(typeof result.client).toBe("string");
  }, TEST_MS);

  test("cluster: local and cross-instance emit on a Redis the bench starts, and a channel's join and leave times", async () => {
    const result = await runBench("cluster", { BENCH_MESSAGES: "200", BENCH_PACED: "50", BENCH_CHURN: "1", BENCH_TTL_MS: "1500" });
    const rows = result.rows as { mode: string; messagesPerSec: number; p50us: number; p99us: number; lost: number }[];
    expect(rows.map((r) => r.mode)).toEqual(["local", "cross"]);
    for (const row of rows) {
      expect(row.messagesPerSec).toBeGreaterThan(0);
      expect(row.p50us).toBeGreaterThan(0);
      expect(row.p99us).toBeGreaterThanOrEqual(row.p50us);
      expect(row.lost).toBe(0);
    }
    expect((result.ratios as { messagesPerSec: number }).messagesPerSec).toBeGreaterThan(0);
    const registry = result.registry as { joinMs: number[]; leaveMs: number[]; failedCalls: number };
    expect(registry.joinMs.length).toBe(1);
    expect(registry.leaveMs.length).toBe(1);
    expect(registry.failedCalls).toBe(0);
  }, TEST_MS);

  test("memory: per-connection figures for idle and called TCP and WebSocket connections", async () => {
    const result = await runBench("memory", { BENCH_CONNS: "40", BENCH_WS_CONNS: "20" });
    const steps = result.steps as { transport: string; state: string; connections: number; rssKiB: number; heapKiB: number }[];
    expect(steps.map((s) => `${s.transport} ${s.state} ${s.connections}`)).toEqual([
      "tcp idle 40",
      "tcp one call 40",
      "websocket idle 20",
      "websocket one call 20",
    ]);
    for (const step of steps) {
      expect(Number.isFinite(step.rssKiB)).toBe(true);
      expect(Number.isFinite(step.heapKiB)).toBe(true);
    }
  }, TEST_MS);
});
