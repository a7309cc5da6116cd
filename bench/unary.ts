/**
 * Unary call benchmark: weft's cmd-level request/reply against the raw TCP ceiling, on
 * the runtime this file is started with. Servers run in child processes (same runtime,
 * 127.0.0.1, port 0); the clients run here. `bench/run.mjs` runs it on all three runtimes.
 *
 *   npx bun bench/unary.ts [--json]
 *   npx deno run -A bench/unary.ts [--json]
 *   node --import ./bench/harness/node_typescript.mjs bench/unary.ts [--json]        (from the repository root)
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
 *   raw               reference/raw_echo_client.ts against servers/raw_echo.ts: 48-byte
 *                     frames, N in flight, one coalesced write per read
 *   weft-nonblocking  `await conn.request(1, 32 bytes, { nonBlocking: true })` in N lanes,
 *                     served by servers/weft_tcp.ts's echo handler
 *   weft-blocking     the same without nonBlocking (qrpc's default)
 *   promise-rpc       reference/promise_rpc_client.ts against servers/raw_echo.ts: the least
 *                     an `await call()` over the same frames costs (a second reference)
 *   raw-conns         BENCH_INFLIGHT raw connections with one frame in flight on each
 *   weft-conns        BENCH_INFLIGHT weft connections with one nonBlocking call on each: a
 *                     server's many quiet clients, where nothing batches (vs raw-conns)
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
import type { Connection } from "../mod.ts";
import { loadAdapter } from "./harness/adapters.ts";
import { addRatios, callPlan, callRunner, type CallRow, callTable, CPU_NOTE, findRow, FLEET_SUFFIX } from "./harness/calls.ts";
import { openFleet } from "./harness/fleet.ts";
import { connectionTarget, LaneClient } from "./harness/lanes.ts";
import { jsonOutput, pct, printJson, runConditions, runtimeLabel, times, verdict } from "./harness/output.ts";
import { measureRounds } from "./harness/rounds.ts";
import { HOST, runtime, runtimeVersion } from "./harness/runtime.ts";
import { socketBench } from "./harness/session.ts";
import { MANY, readSettings, SOCKET_DEFAULTS } from "./harness/settings.ts";
import { ECHO_CMD, makePayload, PAYLOAD_SIZE } from "./harness/wire.ts";
import { PromiseRpc } from "./reference/promise_rpc_client.ts";
import { openRawEcho, rawEchoRunner } from "./reference/raw_echo_client.ts";

const settings = readSettings(SOCKET_DEFAULTS);
const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;
const MODES = ["raw", "promise-rpc", "weft-nonblocking", "weft-blocking"];
/** MANY connections, one call in flight on each: raw ping-pong clients, and weft's (nonBlocking). */
const FLEET_MODES = [`raw${FLEET_SUFFIX}`, `weft${FLEET_SUFFIX}`];

/** A weft row's lanes: `await conn.request()` per call, nonBlocking or blocking (qrpc's default). */
function weftClient(conn: Connection, inFlight: number, mode: string, serverPid: number | undefined): LaneClient {
  const options = mode === "weft-nonblocking" ? NON_BLOCKING : undefined;
  return new LaneClient(mode, inFlight, async () => {
    const response = await conn.request(ECHO_CMD, PAYLOAD, options);
    if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
  }, connectionTarget(conn), serverPid);
}

/** The second reference's row: the same lanes as weft's, on a ~100-line promise RPC over the raw echo. */
async function promiseRpcRunner(port: number, inFlight: number, serverPid: number | undefined) {
  const rpc = await PromiseRpc.open(port);
  const lanes = new LaneClient("promise-rpc", inFlight, async () => {
    const reply = await rpc.call(PAYLOAD);
    if (reply.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${reply.length} bytes`);
  }, { onStall: () => rpc.close(), close: () => Promise.resolve(rpc.close()) }, serverPid);
  return callRunner("promise-rpc", inFlight, lanes);
}

await socketBench({
  settings,
  watchdog: { rows: 2 * MODES.length + FLEET_MODES.length, slackSeconds: 12 },
  servers: { raw: "servers/raw_echo.ts", weft: "servers/weft_tcp.ts" },
}, async ({ servers: { raw, weft }, spinners, pinned, elapsedSeconds }) => {
  const { connect } = await loadAdapter();
  const plan = callPlan(MODES, async (mode, inFlight) => {
    if (mode === `raw${FLEET_SUFFIX}`) {
      const fleet = await openFleet(inFlight, () => openRawEcho(raw.port, 1, undefined), raw.pid);
      return callRunner(mode, inFlight, fleet);
    }
    if (mode === `weft${FLEET_SUFFIX}`) {
      const fleet = await openFleet(inFlight, async () => {
        const conn = await connect({ hostname: HOST, port: weft.port });
        return weftClient(conn, 1, "weft-nonblocking", undefined);
      }, weft.pid);
      return callRunner(mode, inFlight, fleet);
    }
    if (mode === "raw") return rawEchoRunner(raw.port, inFlight, raw.pid);
    if (mode === "promise-rpc") return promiseRpcRunner(raw.port, inFlight, raw.pid);
    const conn = await connect({ hostname: HOST, port: weft.port });
    return callRunner(mode, inFlight, weftClient(conn, inFlight, mode, weft.pid));
  }, FLEET_MODES);
  // With BENCH_ROUNDS > 1 the whole plan repeats and each number is the median over rounds.
  const rows: CallRow[] = await measureRounds(plan, settings, "callsPerSec", "serverCpuUs");
  addRatios(rows);

  // The targets: >= 60% of raw on Bun and Node (Deno has none of its own), at least the
  // promise RPC on every runtime, and a p50 within 1.2x of raw's at 1 in flight.
  const target = runtime === "deno" ? null : 0.6;
  const oneTarget = 1.2;
  const oneP50 = findRow(rows, "weft-nonblocking", 1)?.p50Ratio ?? null;
  const manyRatio = findRow(rows, "weft-nonblocking", MANY)?.ratio ?? null;
  const promiseMany = findRow(rows, "promise-rpc", MANY);
  const weftMany = findRow(rows, "weft-nonblocking", MANY);
  const checks = {
    manyRatio,
    /** weft over the ~100-line promise RPC at 64 in flight (the aim: >= 1). */
    manyVsPromise: promiseMany === undefined || weftMany === undefined ? null : weftMany.callsPerSec / promiseMany.callsPerSec,
    manyVsPromiseMet: promiseMany === undefined || weftMany === undefined ? null : weftMany.callsPerSec >= promiseMany.callsPerSec,
    promiseRatio: promiseMany?.ratio ?? null,
    manyRatioBlocking: findRow(rows, "weft-blocking", MANY)?.ratio ?? null,
    manyTarget: target,
    manyMet: manyRatio === null || target === null ? null : manyRatio >= target,
    oneP50Ratio: oneP50,
    oneP50RatioBlocking: findRow(rows, "weft-blocking", 1)?.p50Ratio ?? null,
    oneTarget,
    oneMet: oneP50 === null ? null : oneP50 <= oneTarget,
    /** MANY connections with one call each: weft over raw (no target; the first table had it). */
    connsRatio: findRow(rows, `weft${FLEET_SUFFIX}`, MANY)?.ratio ?? null,
  };

  if (jsonOutput) {
    printJson({
      runtime,
      version: runtimeVersion(),
      seconds: settings.seconds,
      warmup: settings.warmup,
      payloadBytes: PAYLOAD_SIZE,
      many: MANY,
      rounds: settings.rounds,
      keepAwake: spinners,
      pinned,
      rows,
      checks,
      elapsedSeconds: elapsedSeconds(),
    });
    return;
  }
  console.log(`\nunary, ${PAYLOAD_SIZE} B payload, ${runtimeLabel()} ${runConditions(settings, spinners, pinned)}`);
  console.log(callTable(rows));
  console.log(CPU_NOTE);
  console.log(
    `${MANY} in flight: weft/raw = ${pct(checks.manyRatio)} (target 60% on Bun/Node)` +
      `${verdict(checks.manyMet)} [nonBlocking; blocking: ${pct(checks.manyRatioBlocking)}]`,
  );
  console.log(
    `${MANY} in flight: the ~100-line promise RPC/raw = ${pct(checks.promiseRatio)}; weft/promise RPC = ${pct(checks.manyVsPromise)}` +
      ` (target 100%)${verdict(checks.manyVsPromiseMet)}`,
  );
  console.log(`${MANY} connections with 1 call in flight on each: weft/raw = ${pct(checks.connsRatio)}`);
  console.log(
    `1 in flight: p50 weft/raw = ${times(checks.oneP50Ratio)} (target <= ${oneTarget}x)` +
      `${verdict(checks.oneMet)} [nonBlocking; blocking: ${times(checks.oneP50RatioBlocking)}]`,
  );
});
