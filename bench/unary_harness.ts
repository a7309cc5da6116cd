/**
 * The harness of the request/reply benches (unary.ts, typed.ts): rows, runners (the raw
 * ceiling's, and closed-loop lanes over a weft connection), the interleaved slices that
 * measure one in-flight count's rows together, rounds and medians, and the table.
 */
import process from "node:process";
import type { Connection } from "../mod.ts";
import {
  CpuMeter,
  envNumber,
  Histogram,
  keepAwake,
  killChildren,
  median,
  pinToCpu,
  runLanes,
  type ServerChild,
  withTimeout,
} from "./common.ts";
import type { RawConnection } from "./raw_client.ts";

/** The knobs both benches share (documented at the top of unary.ts). */
export const SECONDS = envNumber(process.env.BENCH_SECONDS, 3);
export const WARMUP = envNumber(process.env.BENCH_WARMUP, 1);
export const MANY = Math.floor(envNumber(process.env.BENCH_INFLIGHT, 64));
export const ROUNDS = Math.floor(envNumber(process.env.BENCH_ROUNDS, 1));
export const KEEP_AWAKE = process.env.BENCH_KEEP_AWAKE === "1";
export const PIN = process.env.BENCH_PIN === "1";
/** Rows of one in-flight count take turns in slices of about this many seconds. */
export const SLICE = envNumber(process.env.BENCH_SLICE, 0.25);

export function log(message: string): void {
  // Progress goes to stderr, so --json output stays clean.
  console.error(message);
}

export interface Row {
  mode: string;
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

/** A table row from a runner's totals (also for runners defined outside this file). */
export function rowOf(mode: string, inFlight: number, calls: number, seconds: number, hist: Histogram, cpu: CpuMeter): Row {
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
export interface Runner {
  readonly mode: string;
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

/** The ceiling: bench/raw_client.ts against bench/raw_echo_server.ts. */
export class RawRunner implements Runner {
  readonly mode = "raw";
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

  async run(ms: number): Promise<void> {
    this.#cpu.start();
    const phase = await this.#raw.run(this.inFlight, ms);
    this.#cpu.stop();
    this.calls += phase.calls;
    this.seconds += phase.seconds;
    this.#reads += phase.reads;
  }

  reset(): void {
    this.hist.reset();
    this.#cpu.reset();
    this.calls = this.seconds = this.#reads = 0;
  }

  row(): Row {
    return {
      ...rowOf("raw", this.inFlight, this.calls, this.seconds, this.hist, this.#cpu),
      framesPerRead: this.calls / this.#reads,
    };
  }

  close(): Promise<void> {
    this.#raw.close();
    return Promise.resolve();
  }
}

/**
 * `inFlight` lanes on one weft connection, each a plain `await call()` loop, as an
 * application would write it (common.ts's runLanes).
 */
export class LaneRunner implements Runner {
  readonly hist = new Histogram();
  calls = 0;
  seconds = 0;
  #conn: Connection;
  #call: () => Promise<void>;
  #cpu: CpuMeter;

  constructor(
    readonly mode: string,
    readonly inFlight: number,
    conn: Connection,
    call: () => Promise<void>,
    serverPid: number | undefined,
  ) {
    this.#conn = conn;
    this.#call = call;
    this.#cpu = new CpuMeter(serverPid);
  }

  async run(ms: number): Promise<void> {
    this.#cpu.start();
    const conn = this.#conn;
    const phase = await runLanes(this.#call, this.inFlight, ms, this.hist, this.mode, () =>
      conn.destroy(new Error("bench: stalled")));
    this.#cpu.stop();
    this.calls += phase.calls;
    this.seconds += phase.seconds;
  }

  reset(): void {
    this.hist.reset();
    this.#cpu.reset();
    this.calls = this.seconds = 0;
  }

  row(): Row {
    return rowOf(this.mode, this.inFlight, this.calls, this.seconds, this.hist, this.#cpu);
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    await withTimeout(conn.close({ timeout: 1000 }), 5000, "weft close hung", () => conn.destroy()).catch(() => {});
  }
}

// ---- measuring -----------------------------------------------------------------------

/**
 * Measures the rows of one in-flight count together: each warms up on its own connection,
 * then they take turns in short slices (the first of each turn rotating) until each has
 * had SECONDS. So raw and weft see the same machine load, which on a shared machine moves
 * far more than the differences being measured.
 */
async function measureGroup(
  modes: string[],
  inFlight: number,
  open: (mode: string, inFlight: number) => Promise<Runner>,
): Promise<Row[]> {
  const runners: Runner[] = [];
  try {
    for (const mode of modes) runners.push(await open(mode, inFlight));
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

/** A bench's plan: [mode, in-flight count] per row, raw rows included. */
export type Plan = Array<[string, number]>;

/**
 * Drops the rows BENCH_ONLY (comma-separated `mode:inFlight`, 64 standing for MANY)
 * does not name; throws if none is left.
 */
export function applyOnly(plan: Plan): Plan {
  const only = (process.env.BENCH_ONLY ?? "").split(",").filter((x) => x !== "");
  if (only.length === 0) return plan;
  const wanted = new Set(only.map((x) => x.replace(/:(\d+)$/, (_, n) => `:${n === "64" ? MANY : n}`)));
  const kept = plan.filter(([mode, n]) => wanted.has(`${mode}:${n}`));
  if (kept.length === 0) throw new Error(`BENCH_ONLY=${only.join(",")} matches no row (mode:inFlight)`);
  return kept;
}

/**
 * Runs the plan ROUNDS times (each in-flight count's rows measured together) and returns
 * one row per plan entry: medians over rounds, with ratios to raw at the same count.
 */
export async function measurePlan(
  plan: Plan,
  open: (mode: string, inFlight: number) => Promise<Runner>,
): Promise<Row[]> {
  const samples = new Map<string, Row[]>(plan.map(([mode, n]) => [`${mode}:${n}`, []]));
  const levels = [...new Set(plan.map(([, n]) => n))];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) log(`  round ${round}/${ROUNDS}`);
    for (const inFlight of levels) {
      const modes = plan.filter(([, n]) => n === inFlight).map(([mode]) => mode);
      for (const r of await measureGroup(modes, inFlight, open)) samples.get(`${r.mode}:${r.inFlight}`)!.push(r);
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
  return rows;
}

/**
 * The backstop that ends a run whatever happens (every row is bounded anyway): exits
 * with code 2 after the time `rowsPerRound` rows should take, with room to spare.
 */
export function startWatchdog(rowsPerRound: number): { clear(): void } {
  const rowsPlanned = rowsPerRound * ROUNDS;
  const slicesPerRow = Math.max(1, Math.round(SECONDS / SLICE));
  const budgetMs = rowsPlanned * (WARMUP + SECONDS + 12 * (slicesPerRow + 1)) * 1000 + 60_000;
  const watchdog = setTimeout(() => {
    console.error(`bench: exceeded ${Math.round(budgetMs / 1000)} s, giving up`);
    killChildren();
    process.exit(2);
  }, budgetMs);
  return { clear: () => clearTimeout(watchdog) };
}

/** BENCH_KEEP_AWAKE's spinners: how many run (0 when off or unavailable). */
export async function startSpinners(): Promise<number> {
  if (!KEEP_AWAKE) return 0;
  const spinners = await keepAwake();
  if (spinners === 0) log("BENCH_KEEP_AWAKE: could not start chrt spinners, running without");
  return spinners;
}

/** BENCH_PIN: this process on CPU 0, every server on CPU 1. Returns whether it is pinned. */
export async function pinProcesses(servers: ServerChild[]): Promise<boolean> {
  if (!PIN) return false;
  // Client on CPU 0, servers on CPU 1: the same placement for raw and weft rows.
  const cpus = (await import("node:os")).cpus().length;
  const pinned = cpus >= 2 && pinToCpu(process.pid, 0) && servers.every((server) => pinToCpu(server.pid, 1));
  if (!pinned) log("BENCH_PIN: could not pin with taskset (needs Linux, 2+ CPUs), running unpinned");
  return pinned;
}

// ---- report ---------------------------------------------------------------------------

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function fmtUs(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : "-";
}

export function table(rows: Row[]): string {
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
