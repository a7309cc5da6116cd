/**
 * Typed unary benchmark: what the typed-procedures layer (src/typed) costs over weft's
 * cmd-level unary call, and how much of that is valibot validation, against the raw TCP
 * ceiling, on the runtime this file is started with. Servers run in child processes (same
 * runtime, 127.0.0.1, port 0); the clients run here. `node bench/run.mjs --bench=typed`
 * runs it on all three runtimes.
 *
 *   npx bun bench/typed.ts [--json]
 *   npx deno run -A bench/typed.ts [--json]
 *   node --import ./bench/harness/node_typescript.mjs bench/typed.ts [--json]        (from the repository root)
 *
 * Rows, each at 1 and at BENCH_INFLIGHT (64) calls in flight on its own connection:
 *   raw            the ceiling of unary.ts: 48-byte frames through reference/raw_echo_client.ts
 *                  and servers/raw_echo.ts
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
 * writes it, so validation runs on the server only. Procedures: servers/typed_routes.ts.
 *
 * As in unary.ts: the rows of one in-flight count warm up, then take turns in BENCH_SLICE
 * slices so their ratios see the same machine load; "cpu us/call" is process CPU time (all
 * threads, /proc), client + server. After the table it prints, per in-flight count, each
 * row's calls/s over raw, typed over weft, and validation's share of the typed call:
 * (t(typed) - t(typed-novalid)) / t(typed), with t the time per call (1 / calls/s: at 64
 * in flight the connection's time per call, at 1 the round trip), and the same from CPU µs
 * per call (client + server). Both swing by several points between runs on a loaded
 * machine: use BENCH_ROUNDS=3 or more.
 *
 * Env: BENCH_SECONDS, BENCH_WARMUP, BENCH_INFLIGHT, BENCH_SLICE, BENCH_ROUNDS, BENCH_PIN,
 * BENCH_KEEP_AWAKE, BENCH_CHILD_FLAGS as in unary.ts;
 *   BENCH_ONLY=typed:64,typed-novalid:64     run only these rows (mode:inFlight)
 */
import type { Connection } from "../mod.ts";
import { createClient } from "../src/typed/mod.ts";
import { loadAdapter } from "./harness/adapters.ts";
import { addRatios, callPlan, callRunner, type CallRow, callTable, CPU_NOTE, findRow } from "./harness/calls.ts";
import { connectionTarget, LaneClient } from "./harness/lanes.ts";
import { jsonOutput, pct, printJson, runConditions, runtimeLabel, verdict } from "./harness/output.ts";
import { measureRounds } from "./harness/rounds.ts";
import { HOST, runtime, runtimeVersion } from "./harness/runtime.ts";
import { socketBench } from "./harness/session.ts";
import { MANY, readSettings, SOCKET_DEFAULTS } from "./harness/settings.ts";
import { ECHO_CMD, makePayload, PAYLOAD_SIZE } from "./harness/wire.ts";
import { rawEchoRunner } from "./reference/raw_echo_client.ts";
import type { TypedRoutes } from "./servers/typed_routes.ts";

const settings = readSettings(SOCKET_DEFAULTS);
const MODES = ["raw", "weft", "typed", "typed-novalid", "typed-msgpack"];

/** The typed calls' input: what `checked` validates (and `trusted` takes as is). */
const ITEM = { id: 42, name: "widget", tags: ["red", "small", "sale"] };
/** Its output: the item and a version. */
const STORED_JSON = JSON.stringify({ ...ITEM, version: 1 });
const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;

/** Target of the typed row (with validation) at MANY in flight, as a share of raw. */
const TARGET = 0.35;

/** What one call of a weft row does. */
function callOf(mode: string, conn: Connection): () => Promise<void> {
  if (mode === "weft") {
    return async () => {
      const response = await conn.request(ECHO_CMD, PAYLOAD, NON_BLOCKING);
      if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
    };
  }
  const client = createClient<TypedRoutes>(conn);
  if (mode === "typed" || mode === "typed-msgpack") {
    return async () => {
      const stored = await client.checked(ITEM);
      if (stored.id !== ITEM.id || stored.version !== 1) throw new Error(`bad reply: ${JSON.stringify(stored)}`);
    };
  }
  if (mode === "typed-novalid") {
    return async () => {
      const stored = (await client.trusted(ITEM)) as { id: number; version: number };
      if (stored.id !== ITEM.id || stored.version !== 1) throw new Error(`bad reply: ${JSON.stringify(stored)}`);
    };
  }
  throw new Error(`unknown mode ${mode}`);
}

/** Validation's share of a typed call, from time per call and from CPU per call. */
function share(rows: CallRow[], inFlight: number) {
  const typed = findRow(rows, "typed", inFlight);
  const loose = findRow(rows, "typed-novalid", inFlight);
  if (typed === undefined || loose === undefined) return null;
  const usPerCall = 1e6 / typed.callsPerSec;
  const usPerCallNoValid = 1e6 / loose.callsPerSec;
  const cpu = (r: CallRow) => (r.clientCpuUs === null || r.serverCpuUs === null ? null : r.clientCpuUs + r.serverCpuUs);
  const cpuUs = cpu(typed);
  const cpuUsNoValid = cpu(loose);
  return {
    inFlight,
    /** µs per call (1e6 / calls/s) with and without validation, and the share. */
    usPerCall,
    usPerCallNoValid,
    wallShare: (usPerCall - usPerCallNoValid) / usPerCall,
    /** CPU µs per call, client + server, with and without validation, and the share. */
    cpuUs,
    cpuUsNoValid,
    cpuShare: cpuUs === null || cpuUsNoValid === null ? null : (cpuUs - cpuUsNoValid) / cpuUs,
  };
}

await socketBench({
  settings,
  watchdog: { rows: 2 * MODES.length, slackSeconds: 12 },
  servers: { raw: "servers/raw_echo.ts", weft: "servers/weft_tcp.ts" },
}, async ({ servers: { raw, weft }, spinners, pinned, elapsedSeconds }) => {
  const { connect } = await loadAdapter();
  const plan = callPlan(MODES, async (mode, inFlight) => {
    if (mode === "raw") return rawEchoRunner(raw.port, inFlight, raw.pid);
    const codec = mode === "typed-msgpack" ? "msgpack" : "raw";
    const conn = await connect({ hostname: HOST, port: weft.port, codec });
    const lanes = new LaneClient(mode, inFlight, callOf(mode, conn), connectionTarget(conn), weft.pid);
    return callRunner(mode, inFlight, lanes);
  });
  const rows: CallRow[] = await measureRounds(plan, settings, "callsPerSec", "serverCpuUs");
  addRatios(rows);

  const levels = [...new Set(rows.map((r) => r.inFlight))];
  const perLevel = levels.map((inFlight) => {
    const typed = findRow(rows, "typed", inFlight);
    const weft = findRow(rows, "weft", inFlight);
    return {
      inFlight,
      typedRatio: typed?.ratio ?? null,
      typedNoValidRatio: findRow(rows, "typed-novalid", inFlight)?.ratio ?? null,
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

  if (jsonOutput) {
    printJson({
      runtime,
      version: runtimeVersion(),
      seconds: settings.seconds,
      warmup: settings.warmup,
      many: MANY,
      rounds: settings.rounds,
      keepAwake: spinners,
      pinned,
      rawPayloadBytes: PAYLOAD_SIZE,
      typedInputBytes: inputBytes,
      typedOutputBytes: outputBytes,
      rows,
      perLevel,
      checks,
      elapsedSeconds: elapsedSeconds(),
    });
    return;
  }
  const us = (x: number | null) => (x === null ? "n/a" : x.toFixed(2));
  console.log(`\ntyped unary, ${runtimeLabel()} ${runConditions(settings, spinners, pinned)}`);
  console.log(`raw and weft: ${PAYLOAD_SIZE} B payload; typed: JSON ${inputBytes} B in (+ 8 B name), ${outputBytes} B out`);
  console.log(callTable(rows));
  console.log(CPU_NOTE);
  for (const l of perLevel) {
    const target = l.inFlight !== MANY
      ? ""
      : hasTarget
      ? ` (target ${pct(TARGET)} on Bun/Node)${verdict(checks.manyMet)}`
      : " (no target on Deno)";
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
});
