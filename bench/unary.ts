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
  cpuMs,
  Histogram,
  HOST,
  keepAwake,
  killChildren,
  makePayload,
  PAYLOAD_SIZE,
  pinToCpu,
  runtime,
  runLanes,
  runtimeVersion,
  type ServerChild,
  startServer,
  withTimeout,
} from "./common.ts";
import { openRaw, type RawConnection } from "./raw_client.ts";

const json = process.argv.includes("--json");
const SECONDS = positive(process.env.BENCH_SECONDS, 3);
const WARMUP = positive(process.env.BENCH_WARMUP, 1);
const MANY = Math.floor(positive(process.env.BENCH_INFLIGHT, 64));
const ROUNDS = Math.floor(positive(process.env.BENCH_ROUNDS, 1));
const KEEP_AWAKE = process.env.BENCH_KEEP_AWAKE === "1";
const PIN = process.env.BENCH_PIN === "1";
/** Rows of one in-flight count take turns in slices of about this many seconds. */
const SLICE = positive(process.env.BENCH_SLICE, 0.25);
/** Hard cap on calls per row, so a loop ends even if the clock misbehaves. */

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

function log(message: string): void {
  // Progress goes to stderr, so --json output stays clean.
  console.error(message);
}

export interface Row {
  mode: "raw" | "weft-nonblocking" | "weft-blocking";
  inFlight: number;
  callsPerSec: number;
  calls: number;
  seconds: number;
  p50us: number;
  p99us: number;
  p90us: number;
  p999us: number;
  meanUs: number;
  maxUs: number;
  /** CPU time per call of this (client) process and of the server process, all threads; Linux only. */
  clientCpuUs: number | null;
  serverCpuUs: number | null;
  /** Raw rows: frames completed per socket read (how much the echo batches). */
  framesPerRead?: number;
  /** With BENCH_ROUNDS > 1: calls/s of each round (the row holds medians). */
  rounds?: number[];
  /** calls/s over raw's at the same in-flight count. */
  ratio?: number;
  /** p50 over raw's at the same in-flight count. */
  p50Ratio?: number;
}

function row(
  mode: Row["mode"],
  inFlight: number,
  calls: number,
  seconds: number,
  hist: Histogram,
  cpu: CpuMeter,
): Row {
  return {
    mode,
    inFlight,
    callsPerSec: calls / seconds,
    calls,
    seconds,
    p50us: hist.quantileUs(0.5),
    p99us: hist.quantileUs(0.99),
    p90us: hist.quantileUs(0.9),
    p999us: hist.quantileUs(0.999),
    meanUs: hist.meanUs(),
    maxUs: hist.max * 1000,
    clientCpuUs: cpu.client === null || calls === 0 ? null : (cpu.client * 1000) / calls,
    serverCpuUs: cpu.server === null || calls === 0 ? null : (cpu.server * 1000) / calls,
  };
}

/** Sums the CPU ms this process and one server used while a runner's slices ran. */
class CpuMeter {
  client: number | null = 0;
  server: number | null = 0;
  #serverPid: number | undefined;

  constructor(serverPid: number | undefined) {
    this.#serverPid = serverPid;
  }

  /** Runs `body`, adding the CPU both processes used meanwhile. */
  async around(body: () => Promise<void>): Promise<void> {
    const c0 = cpuMs("self");
    const s0 = this.#serverPid === undefined ? null : cpuMs(this.#serverPid);
    await body();
    const c1 = cpuMs("self");
    const s1 = this.#serverPid === undefined ? null : cpuMs(this.#serverPid);
    this.client = c0 === null || c1 === null || this.client === null ? null : this.client + (c1 - c0);
    this.server = s0 === null || s1 === null || this.server === null ? null : this.server + (s1 - s0);
  }

  reset(): void {
    this.client = 0;
    this.server = 0;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One row from several rounds of it: each number is its median. */
function medianRow(rounds: Row[]): Row {
  if (rounds.length === 1) return rounds[0];
  const m = (pick: (r: Row) => number) => median(rounds.map(pick));
  const r: Row = {
    mode: rounds[0].mode,
    inFlight: rounds[0].inFlight,
    callsPerSec: m((r) => r.callsPerSec),
    calls: m((r) => r.calls),
    seconds: m((r) => r.seconds),
    p50us: m((r) => r.p50us),
    p99us: m((r) => r.p99us),
    p90us: m((r) => r.p90us),
    p999us: m((r) => r.p999us),
    meanUs: m((r) => r.meanUs),
    maxUs: m((r) => r.maxUs),
    clientCpuUs: rounds.some((r) => r.clientCpuUs === null) ? null : m((r) => r.clientCpuUs!),
    serverCpuUs: rounds.some((r) => r.serverCpuUs === null) ? null : m((r) => r.serverCpuUs!),
    rounds: rounds.map((x) => Math.round(x.callsPerSec)),
  };
  if (rounds[0].framesPerRead !== undefined) r.framesPerRead = m((r) => r.framesPerRead!);
  return r;
}

// ---- runners -------------------------------------------------------------------------

/**
 * One row's client: its own connection, its latency histogram, and its running totals
 * over the measured slices it has run.
 */
interface Runner {
  readonly mode: Row["mode"];
  readonly inFlight: number;
  readonly hist: Histogram;
  calls: number;
  seconds: number;
  /** Runs `ms` of calls and adds them to the totals (warm-up: then call `reset`). */
  run(ms: number): Promise<void>;
  reset(): void;
  row(): Row;
  close(): Promise<void>;
}

class RawRunner implements Runner {
  readonly mode = "raw" as const;
  readonly hist: Histogram;
  calls = 0;
  seconds = 0;
  #reads = 0;
  #raw: RawConnection;
  #cpu: CpuMeter;

  constructor(raw: RawConnection, readonly inFlight: number, serverPid: number | undefined) {
    this.#raw = raw;
    this.hist = raw.engine.hist;
    this.#cpu = new CpuMeter(serverPid);
  }

  run(ms: number): Promise<void> {
    return this.#cpu.around(async () => {
      const phase = await this.#raw.run(this.inFlight, ms);
      this.calls += phase.calls;
      this.seconds += phase.seconds;
      this.#reads += phase.reads;
    });
  }

  reset(): void {
    this.hist.reset();
    this.#cpu.reset();
    this.calls = this.seconds = this.#reads = 0;
  }

  row(): Row {
    return {
      ...row("raw", this.inFlight, this.calls, this.seconds, this.hist, this.#cpu),
      framesPerRead: this.calls / this.#reads,
    };
  }

  close(): Promise<void> {
    this.#raw.close();
    return Promise.resolve();
  }
}

const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;

/**
 * `inFlight` lanes, each a plain `await conn.request()` loop, as an application would
 * write it. One clock read per call: a lane's previous completion is its next issue time.
 */
async function weftPhase(
  conn: Connection,
  inFlight: number,
  ms: number,
  nonBlocking: boolean,
  hist: Histogram,
): Promise<{ calls: number; seconds: number }> {
  const options = nonBlocking ? NON_BLOCKING : undefined;
  return await runLanes(
    async () => {
      const response = await conn.request(ECHO_CMD, PAYLOAD, options);
      if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
    },
    inFlight,
    ms,
    hist,
    "weft",
    () => conn.destroy(new Error("bench: stalled")),
  );
}

class WeftRunner implements Runner {
  readonly hist = new Histogram();
  calls = 0;
  seconds = 0;
  #conn: Connection;
  #cpu: CpuMeter;

  constructor(
    conn: Connection,
    readonly inFlight: number,
    readonly mode: "weft-nonblocking" | "weft-blocking",
    serverPid: number | undefined,
  ) {
    this.#conn = conn;
    this.#cpu = new CpuMeter(serverPid);
  }

  run(ms: number): Promise<void> {
    return this.#cpu.around(async () => {
      const phase = await weftPhase(this.#conn, this.inFlight, ms, this.mode === "weft-nonblocking", this.hist);
      this.calls += phase.calls;
      this.seconds += phase.seconds;
    });
  }

  reset(): void {
    this.hist.reset();
    this.#cpu.reset();
    this.calls = this.seconds = 0;
  }

  row(): Row {
    return row(this.mode, this.inFlight, this.calls, this.seconds, this.hist, this.#cpu);
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    await withTimeout(conn.close({ timeout: 1000 }), 5000, "weft close hung", () => conn.destroy()).catch(() => {});
  }
}

/**
 * Measures the rows of one in-flight count together: each warms up on its own connection,
 * then they take turns in short slices (the first of each turn rotating) until each has
 * had SECONDS. So raw and weft see the same machine load, which on a shared machine moves
 * far more than the differences being measured.
 */
async function measureGroup(
  modes: Row["mode"][],
  inFlight: number,
  open: (mode: Row["mode"]) => Promise<Runner>,
): Promise<Row[]> {
  const runners: Runner[] = [];
  try {
    for (const mode of modes) runners.push(await open(mode));
    for (const runner of runners) {
      log(`  warm-up ${runner.mode} x${inFlight}`);
      await runner.run(WARMUP * 1000);
      runner.reset();
    }
    const slices = Math.max(1, Math.round(SECONDS / SLICE));
    const sliceMs = (SECONDS * 1000) / slices;
    log(`  measuring ${modes.join(", ")} x${inFlight}: ${slices} slices of ${Math.round(sliceMs)} ms each`);
    for (let s = 0; s < slices; s++) {
      for (let k = 0; k < runners.length; k++) await runners[(s + k) % runners.length].run(sliceMs);
    }
    return runners.map((runner) => runner.row());
  } finally {
    for (const runner of runners) await runner.close();
  }
}

// ---- report ---------------------------------------------------------------------------

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function fmtUs(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : "-";
}

function table(rows: Row[]): string {
  const header = ["mode", "in flight", "calls/s", "p50 us", "p99 us", "cpu us/call c+s", "vs raw"];
  const lines = rows.map((r) => {
    let vs = "-";
    if (r.ratio !== undefined) {
      vs = `${(r.ratio * 100).toFixed(0)}% calls/s`;
      if (r.inFlight === 1 && r.p50Ratio !== undefined) vs += `, ${r.p50Ratio.toFixed(2)}x p50`;
    }
    const cpu = r.clientCpuUs === null || r.serverCpuUs === null
      ? "-"
      : `${r.clientCpuUs.toFixed(2)}+${r.serverCpuUs.toFixed(2)}`;
    return [r.mode, String(r.inFlight), fmtInt(r.callsPerSec), fmtUs(r.p50us), fmtUs(r.p99us), cpu, vs];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

// ---- main -----------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  // Whatever happens, the run ends: every row is bounded, and this is the backstop.
  const rowsPlanned = 6 * ROUNDS;
  const slicesPerRow = Math.max(1, Math.round(SECONDS / SLICE));
  const budgetMs = rowsPlanned * (WARMUP + SECONDS + 12 * (slicesPerRow + 1)) * 1000 + 60_000;
  const watchdog = setTimeout(() => {
    console.error(`bench: exceeded ${Math.round(budgetMs / 1000)} s, giving up`);
    killChildren();
    process.exit(2);
  }, budgetMs);

  const servers: ServerChild[] = [];
  try {
    const { connect } = await loadAdapter();
    let spinners = 0;
    if (KEEP_AWAKE) {
      spinners = await keepAwake();
      if (spinners === 0) log("BENCH_KEEP_AWAKE: could not start chrt spinners, running without");
    }
    const [rawServer, weftServer] = await Promise.all([
      startServer("raw_echo_server.ts"),
      startServer("weft_server.ts"),
    ]);
    servers.push(rawServer, weftServer);
    let pinned = false;
    if (PIN) {
      // Client on CPU 0, servers on CPU 1: the same placement for raw and weft rows.
      const cpus = (await import("node:os")).cpus().length;
      pinned = cpus >= 2 && pinToCpu(process.pid, 0) && pinToCpu(rawServer.pid, 1) && pinToCpu(weftServer.pid, 1);
      if (!pinned) log("BENCH_PIN: could not pin with taskset (needs Linux, 2+ CPUs), running unpinned");
    }
    log(
      `${runtime} ${runtimeVersion()}: raw echo server pid ${rawServer.pid} port ${rawServer.port}, ` +
        `weft server pid ${weftServer.pid} port ${weftServer.port}; warm-up ${WARMUP} s, measure ${SECONDS} s per row` +
        (spinners > 0 ? `; ${spinners} SCHED_IDLE spinners keep the CPUs awake` : "") +
        (pinned ? "; client pinned to CPU 0, servers to CPU 1" : ""),
    );

    const plan: Array<[Row["mode"], number]> = [
      ["raw", 1],
      ["weft-nonblocking", 1],
      ["weft-blocking", 1],
      ["raw", MANY],
      ["weft-nonblocking", MANY],
      ["weft-blocking", MANY],
    ];
    const only = (process.env.BENCH_ONLY ?? "").split(",").filter((x) => x !== "");
    if (only.length > 0) {
      const wanted = new Set(only.map((x) => x.replace(/:(\d+)$/, (_, n) => `:${n === "64" ? MANY : n}`)));
      for (let i = plan.length - 1; i >= 0; i--) {
        if (!wanted.has(`${plan[i][0]}:${plan[i][1]}`)) plan.splice(i, 1);
      }
      if (plan.length === 0) throw new Error(`BENCH_ONLY=${only.join(",")} matches no row (mode:inFlight)`);
    }
    const open = (inFlight: number) => async (mode: Row["mode"]): Promise<Runner> =>
      mode === "raw"
        ? new RawRunner(await openRaw(rawServer.port), inFlight, rawServer.pid)
        : new WeftRunner(await connect({ hostname: HOST, port: weftServer.port }), inFlight, mode, weftServer.pid);
    // With BENCH_ROUNDS > 1 the whole plan repeats and each number is the median over rounds.
    const samples = new Map<string, Row[]>(plan.map(([mode, n]) => [`${mode}:${n}`, []]));
    const levels = [...new Set(plan.map(([, n]) => n))];
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) log(`  round ${round}/${ROUNDS}`);
      for (const inFlight of levels) {
        const modes = plan.filter(([, n]) => n === inFlight).map(([mode]) => mode);
        for (const r of await measureGroup(modes, inFlight, open(inFlight))) samples.get(`${r.mode}:${r.inFlight}`)!.push(r);
      }
    }
    const rows = [...samples.values()].map(medianRow);
    for (const r of rows) {
      if (r.mode === "raw") continue;
      const base = rows.find((b) => b.mode === "raw" && b.inFlight === r.inFlight);
      if (base === undefined) continue;
      r.ratio = r.callsPerSec / base.callsPerSec;
      r.p50Ratio = r.p50us / base.p50us;
    }

    const target = runtime === "deno" ? 0.3 : 0.5;
    const ratioOf = (mode: Row["mode"], inFlight: number) =>
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
    clearTimeout(watchdog);
    await Promise.all(servers.map((server) => server.stop()));
    killChildren();
  }
}

try {
  await main();
  process.exit(0);
} catch (error) {
  console.error("bench failed:", error);
  killChildren();
  process.exit(1);
}
