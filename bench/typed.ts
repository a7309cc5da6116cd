/**
 * Typed unary benchmark: what the typed-procedures layer (src/typed) costs over weft's
 * cmd-level unary call, and how much of that is valibot validation, against the raw TCP
 * ceiling, on the runtime this file is started with. Servers run in child processes (same
 * runtime, 127.0.0.1, port 0); the clients run here. `node bench/run.mjs --bench=typed`
 * runs it on all three runtimes.
 *
 *   npx bun bench/typed.ts [--json]
 *   npx deno run -A bench/typed.ts [--json]
 *   node --import tsx bench/typed.ts [--json]        (from the repository root)
 *
 * Rows, each at 1 and at BENCH_INFLIGHT (64) calls in flight on its own connection:
 *   raw            the ceiling of unary.ts: 48-byte frames through bench/raw_client.ts and
 *                  bench/raw_echo_server.ts
 *   weft           unary.ts's weft-nonblocking: `conn.request(1, 32 bytes, { nonBlocking })`
 *                  answered by a bytes-in, bytes-out handler
 *   typed          `await client.checked(item)` through `createClient`, served by `serve()`:
 *                  the call by name (cmd 0xFFFF), the JSON codec, valibot validation of the
 *                  input ({ id: number, name: non-empty string, tags: string[] }) and of the
 *                  output (the same plus a version number) on the server
 *   typed-novalid  the same procedure with v.unknown() schemas (`client.trusted`), the same
 *                  payloads: the typed layer without validation's cost
 *   typed-msgpack  `typed` on a connection whose codec is MessagePack instead of JSON
 * The client is `createClient<typeof routes>(conn)` with no contract, as an application
 * writes it, so validation runs on the server only. Procedures: bench/weft_server.ts.
 *
 * As in unary.ts (bench/unary_harness.ts): the rows of one in-flight count warm up, then
 * take turns in BENCH_SLICE slices so their ratios see the same machine load; "cpu us/call"
 * is process CPU time (all threads, /proc), client + server. After the table it prints, per
 * in-flight count, each row's calls/s over raw, typed over weft, and validation's share of
 * the typed call: (t(typed) - t(typed-novalid)) / t(typed), with t the time per call
 * (1 / calls/s: at 64 in flight the connection's time per call, at 1 the round trip), and
 * the same from CPU µs per call (client + server). Both swing by several points between runs
 * on a loaded machine: use BENCH_ROUNDS=3 or more.
 *
 * Env: BENCH_SECONDS, BENCH_WARMUP, BENCH_INFLIGHT, BENCH_SLICE, BENCH_ROUNDS, BENCH_PIN,
 * BENCH_KEEP_AWAKE, BENCH_CHILD_FLAGS as in unary.ts;
 *   BENCH_ONLY=typed:64,typed-novalid:64     run only these rows (mode:inFlight)
 */
import process from "node:process";
import type { Connection } from "../mod.ts";
import { createClient } from "../src/typed/mod.ts";
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
  type Row,
  type Runner,
  SECONDS,
  startSpinners,
  startWatchdog,
  table,
  WARMUP,
} from "./unary_harness.ts";
import type { TypedRoutes } from "./weft_server.ts";

const json = process.argv.includes("--json");

/** The typed calls' input: what `checked` validates (and `trusted` takes as is). */
const ITEM = { id: 42, name: "widget", tags: ["red", "small", "sale"] };
/** Its output: the item and a version. */
const STORED_JSON = JSON.stringify({ ...ITEM, version: 1 });
const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;

/** Target of the typed row (with validation) at MANY in flight, as a share of raw. */
const TARGET = 0.35;

function runner(mode: string, inFlight: number, conn: Connection, serverPid: number | undefined): Runner {
  if (mode === "weft") {
    return new LaneRunner(mode, inFlight, conn, async () => {
      const response = await conn.request(ECHO_CMD, PAYLOAD, NON_BLOCKING);
      if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
    }, serverPid);
  }
  const client = createClient<TypedRoutes>(conn);
  if (mode === "typed" || mode === "typed-msgpack") {
    return new LaneRunner(mode, inFlight, conn, async () => {
      const stored = await client.checked(ITEM);
      if (stored.id !== ITEM.id || stored.version !== 1) throw new Error(`bad reply: ${JSON.stringify(stored)}`);
    }, serverPid);
  }
  if (mode === "typed-novalid") {
    return new LaneRunner(mode, inFlight, conn, async () => {
      const stored = (await client.trusted(ITEM)) as { id: number; version: number };
      if (stored.id !== ITEM.id || stored.version !== 1) throw new Error(`bad reply: ${JSON.stringify(stored)}`);
    }, serverPid);
  }
  throw new Error(`unknown mode ${mode}`);
}

/** Validation's share of a typed call, from time per call and from CPU per call. */
interface Share {
  inFlight: number;
  /** µs per call (1e6 / calls/s) with and without validation, and the share. */
  usPerCall: number;
  usPerCallNoValid: number;
  wallShare: number;
  /** CPU µs per call, client + server, with and without validation, and the share. */
  cpuUs: number | null;
  cpuUsNoValid: number | null;
  cpuShare: number | null;
}

function share(rows: Row[], inFlight: number): Share | null {
  const typed = rows.find((r) => r.mode === "typed" && r.inFlight === inFlight);
  const loose = rows.find((r) => r.mode === "typed-novalid" && r.inFlight === inFlight);
  if (typed === undefined || loose === undefined) return null;
  const usPerCall = 1e6 / typed.callsPerSec;
  const usPerCallNoValid = 1e6 / loose.callsPerSec;
  const cpu = (r: Row) => (r.clientCpuUs === null || r.serverCpuUs === null ? null : r.clientCpuUs + r.serverCpuUs);
  const cpuUs = cpu(typed);
  const cpuUsNoValid = cpu(loose);
  return {
    inFlight,
    usPerCall,
    usPerCallNoValid,
    wallShare: (usPerCall - usPerCallNoValid) / usPerCall,
    cpuUs,
    cpuUsNoValid,
    cpuShare: cpuUs === null || cpuUsNoValid === null ? null : (cpuUs - cpuUsNoValid) / cpuUs,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  // Whatever happens, the run ends: every row is bounded, and this is the backstop.
  const watchdog = startWatchdog(8);

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

    const modes = ["raw", "weft", "typed", "typed-novalid", "typed-msgpack"];
    const plan: Plan = applyOnly([...modes.map((m): [string, number] => [m, 1]), ...modes.map((m): [string, number] => [m, MANY])]);
    const open = async (mode: string, inFlight: number): Promise<Runner> =>
      mode === "raw"
        ? new RawRunner(await openRaw(rawServer.port), inFlight, rawServer.pid)
        : runner(
          mode,
          inFlight,
          await connect({ hostname: HOST, port: weftServer.port, codec: mode === "typed-msgpack" ? "msgpack" : "raw" }),
          weftServer.pid,
        );
    const rows = await measurePlan(plan, open);

    const find = (mode: string, inFlight: number) => rows.find((r) => r.mode === mode && r.inFlight === inFlight);
    const levels = [...new Set(plan.map(([, n]) => n))];
    const perLevel = levels.map((inFlight) => {
      const typed = find("typed", inFlight);
      const weft = find("weft", inFlight);
      return {
        inFlight,
        typedRatio: typed?.ratio ?? null,
        typedNoValidRatio: find("typed-novalid", inFlight)?.ratio ?? null,
        weftRatio: weft?.ratio ?? null,
        typedOverWeft: typed === undefined || weft === undefined ? null : typed.callsPerSec / weft.callsPerSec,
        validation: share(rows, inFlight),
      };
    });
    const many = perLevel.find((l) => l.inFlight === MANY)?.typedRatio ?? null;
    const hasTarget = runtime !== "deno";
    const checks = {
      manyTypedRatio: many,
      manyTarget: hasTarget ? TARGET : null,
      manyMet: many === null || !hasTarget ? null : many >= TARGET,
    };
    const inputBytes = JSON.stringify(ITEM).length;
    const outputBytes = STORED_JSON.length;

    if (json) {
      console.log(JSON.stringify({
        runtime,
        version: runtimeVersion(),
        seconds: SECONDS,
        warmup: WARMUP,
        many: MANY,
        rounds: ROUNDS,
        keepAwake: spinners,
        pinned,
        rawPayloadBytes: PAYLOAD_SIZE,
        typedInputBytes: inputBytes,
        typedOutputBytes: outputBytes,
        rows,
        perLevel,
        checks,
        elapsedSeconds: (Date.now() - started) / 1000,
      }));
    } else {
      const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(0)}%`);
      const us = (x: number | null) => (x === null ? "n/a" : x.toFixed(2));
      console.log(
        `\ntyped unary, ${runtime} ${runtimeVersion()} (${SECONDS} s per row, one connection per row` +
          `${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ""}${spinners > 0 ? ", CPUs kept awake" : ""}` +
          `${pinned ? ", pinned" : ""})`,
      );
      console.log(
        `raw and weft: ${PAYLOAD_SIZE} B payload; typed: JSON ${inputBytes} B in (+ 8 B name), ${outputBytes} B out`,
      );
      console.log(table(rows));
      console.log("(cpu us/call c+s: CPU time per call of the client process + the server process, all threads)");
      for (const l of perLevel) {
        const target = l.inFlight === MANY
          ? hasTarget
            ? ` (target ${pct(TARGET)} on Bun/Node)${checks.manyMet === null ? "" : checks.manyMet ? " -> met" : " -> NOT met"}`
            : " (no target on Deno)"
          : "";
        console.log(
          `${l.inFlight} in flight: typed/raw = ${pct(l.typedRatio)}${target}; typed-novalid/raw = ` +
            `${pct(l.typedNoValidRatio)}; weft/raw = ${pct(l.weftRatio)}; typed/weft = ${pct(l.typedOverWeft)}`,
        );
        const s = l.validation;
        if (s === null) continue;
        console.log(
          `  validation's share of a typed call: ${pct(s.wallShare)} of time per call ` +
            `(${us(s.usPerCall)} vs ${us(s.usPerCallNoValid)} us), ${pct(s.cpuShare)} of CPU per call ` +
            `(${us(s.cpuUs)} vs ${us(s.cpuUsNoValid)} us c+s)`,
        );
      }
    }
  } finally {
    watchdog.clear();
    await Promise.all(servers.map((server) => server.stop()));
    killChildren();
  }
}

await runBench(main);
