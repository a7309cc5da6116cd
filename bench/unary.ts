/**
 * Unary call benchmark: weft's cmd-level request/reply against the raw TCP ceiling, on
 * the runtime this file is started with. Servers run in child processes (same runtime,
 * 127.0.0.1, port 0); the clients run here. `bench/run.mjs` runs it on all three runtimes.
 *
 *   npx bun bench/unary.ts [--json]
 *   npx deno run -A bench/unary.ts [--json]
 *   node --import tsx bench/unary.ts [--json]        (from the repository root)
 *
 * Rows: raw echo, weft nonBlocking, weft blocking (qrpc's default), each at 1 and at
 * BENCH_INFLIGHT (64) calls in flight on one connection. Each row has its own connection:
 * warm-up, then measured slices. The rows of one in-flight count take turns slice by
 * slice, so their ratios see the same machine load (on a shared 2-core VM the load moves
 * far more than the differences being measured). calls/s = completed calls / measured
 * time (each slice up to its last completion, the tail drained). Latency is per call, issue
 * to completion, in a 0.1 us histogram. "cpu us/call" is process CPU time (all threads)
 * from /proc, client and server.
 *
 * Env:
 *   BENCH_SECONDS=3     measured seconds per row
 *   BENCH_WARMUP=1      warm-up seconds per row
 *   BENCH_INFLIGHT=64   the "many" in-flight count
 *   BENCH_SLICE=0.25    seconds per interleaved slice
 *   BENCH_ROUNDS=1      repeat everything, report per-row medians
 *   BENCH_PIN=1         (Linux, taskset) client on CPU 0, servers on CPU 1: same placement
 *                       for raw and weft rows; unpinned, placement moves 1-in-flight
 *                       latency 3x between runs. Best for A/B-comparing engine changes.
 *   BENCH_KEEP_AWAKE=1  (Linux, chrt) one SCHED_IDLE spinner per CPU so idle vCPUs never
 *                       halt (VMs booted with guest_halt_poll_ns=0 pay tens of us per wake-up)
 *   BENCH_ONLY=weft-nonblocking:64,raw:64            run only these rows (for profiling)
 *   BENCH_CHILD_FLAGS="--cpu-prof --cpu-prof-dir=D"  extra runtime flags for the servers
 */
import process from "node:process";
import type { Connection } from "../mod.ts";
import { loadAdapter } from "./adapter.ts";
import {
  ECHO_CMD,
  HOST,
  killChildren,
  makePayload,
  PAYLOAD_SIZE,
  runtime,
  runtimeVersion,
  type ServerChild,
  startServer,
  runBench,
} from "./common.ts";
import { openRaw } from "./raw_client.ts";
import {
  applyOnly,
  LaneRunner,
  log,
  MANY,
  measurePlan,
  pinProcesses,
  type Plan,
  RawRunner,
  ROUNDS,
  type Runner,
  SECONDS,
  startSpinners,
  startWatchdog,
  table,
  WARMUP,
} from "./unary_harness.ts";

export type { Row } from "./unary_harness.ts";

const json = process.argv.includes("--json");

const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;

/** A weft row: `await conn.request()` per call, nonBlocking or blocking (qrpc's default). */
function weftRunner(conn: Connection, inFlight: number, mode: string, serverPid: number | undefined): Runner {
  const options = mode === "weft-nonblocking" ? NON_BLOCKING : undefined;
  return new LaneRunner(mode, inFlight, conn, async () => {
    const response = await conn.request(ECHO_CMD, PAYLOAD, options);
    if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
  }, serverPid);
}

// ---- main -----------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  // Whatever happens, the run ends: every row is bounded, and this is the backstop.
  const watchdog = startWatchdog(6);

  const servers: ServerChild[] = [];
  try {
    const { connect } = await loadAdapter();
    const spinners = await startSpinners();
    const [rawServer, weftServer] = await Promise.all([
      startServer("raw_echo_server.ts"),
      startServer("weft_server.ts"),
    ]);
    servers.push(rawServer, weftServer);
    const pinned = await pinProcesses(servers);
    log(
      `${runtime} ${runtimeVersion()}: raw echo server pid ${rawServer.pid} port ${rawServer.port}, ` +
        `weft server pid ${weftServer.pid} port ${weftServer.port}; warm-up ${WARMUP} s, measure ${SECONDS} s per row` +
        (spinners > 0 ? `; ${spinners} SCHED_IDLE spinners keep the CPUs awake` : "") +
        (pinned ? "; client pinned to CPU 0, servers to CPU 1" : ""),
    );

    const plan: Plan = applyOnly([
      ["raw", 1],
      ["weft-nonblocking", 1],
      ["weft-blocking", 1],
      ["raw", MANY],
      ["weft-nonblocking", MANY],
      ["weft-blocking", MANY],
    ]);
    const open = async (mode: string, inFlight: number): Promise<Runner> =>
      mode === "raw"
        ? new RawRunner(await openRaw(rawServer.port), inFlight, rawServer.pid)
        : weftRunner(await connect({ hostname: HOST, port: weftServer.port }), inFlight, mode, weftServer.pid);
    // With BENCH_ROUNDS > 1 the whole plan repeats and each number is the median over rounds.
    const rows = await measurePlan(plan, open);

    const target = runtime === "deno" ? 0.3 : 0.5;
    const ratioOf = (mode: string, inFlight: number) =>
      rows.find((r) => r.mode === mode && r.inFlight === inFlight)?.ratio ?? null;
    const oneP50 = rows.find((r) => r.mode === "weft-nonblocking" && r.inFlight === 1)?.p50Ratio ?? null;
    const manyRatio = ratioOf("weft-nonblocking", MANY);
    const checks = {
      manyRatio,
      manyRatioBlocking: ratioOf("weft-blocking", MANY),
      manyTarget: target,
      manyMet: manyRatio === null ? null : manyRatio >= target,
      oneP50Ratio: oneP50,
      oneP50RatioBlocking: rows.find((r) => r.mode === "weft-blocking" && r.inFlight === 1)?.p50Ratio ?? null,
      oneTarget: 1.5,
      oneMet: oneP50 === null ? null : oneP50 <= 1.5,
    };

    if (json) {
      console.log(JSON.stringify({
        runtime,
        version: runtimeVersion(),
        seconds: SECONDS,
        warmup: WARMUP,
        payloadBytes: PAYLOAD_SIZE,
        many: MANY,
        rounds: ROUNDS,
        keepAwake: spinners,
        pinned,
        rows,
        checks,
        elapsedSeconds: (Date.now() - started) / 1000,
      }));
    } else {
      const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(0)}%`);
      const verdict = (met: boolean | null) => (met === null ? "" : met ? " -> met" : " -> NOT met");
      console.log(
        `\nunary, ${PAYLOAD_SIZE} B payload, ${runtime} ${runtimeVersion()} ` +
          `(${SECONDS} s per row, one connection per row${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ""}` +
          `${spinners > 0 ? ", CPUs kept awake" : ""}${pinned ? ", pinned" : ""})`,
      );
      console.log(table(rows));
      console.log("(cpu us/call c+s: CPU time per call of the client process + the server process, all threads)");
      console.log(
        `${MANY} in flight: weft/raw = ${pct(checks.manyRatio)} (target 50% on Bun/Node, 30% on Deno)` +
          `${verdict(checks.manyMet)} [nonBlocking; blocking: ${pct(checks.manyRatioBlocking)}]`,
      );
      const x = (r: number | null) => (r === null ? "n/a" : `${r.toFixed(2)}x`);
      console.log(
        `1 in flight: p50 weft/raw = ${x(checks.oneP50Ratio)} (target <= 1.5x)` +
          `${verdict(checks.oneMet)} [nonBlocking; blocking: ${x(checks.oneP50RatioBlocking)}]`,
      );
    }
  } finally {
    watchdog.clear();
    await Promise.all(servers.map((server) => server.stop()));
    killChildren();
  }
}

await runBench(main);
