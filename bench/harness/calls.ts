/**
 * The request/reply benches' rows (unary, typed, websocket): each mode at 1 and at
 * BENCH_INFLIGHT calls in flight, on a connection of its own, grouped by in-flight count;
 * calls/s, latency percentiles and CPU per call; ratios to the `raw` row of the same count;
 * and their table.
 */
import { fmtInt, fmtUs, render } from "./output.ts";
import type { PlanRow } from "./rounds.ts";
import type { Runner } from "./interleave.ts";
import { selectRows } from "./selection.ts";
import { MANY } from "./settings.ts";
import type { Client, Tally } from "./tally.ts";

export interface CallRow {
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

/** A row from a client's tally. */
export function callRow(mode: string, inFlight: number, tally: Tally): CallRow {
  const { ops: calls, seconds, hist, cpu } = tally;
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

/** A client as one row's runner; `extra` adds fields to its row (the raw echo's framesPerRead). */
export function callRunner(
  mode: string,
  inFlight: number,
  client: Client,
  extra?: () => Partial<CallRow>,
): Runner<CallRow> {
  return {
    label: `${mode} x${inFlight}`,
    run: (ms) => client.run(ms),
    reset: () => client.reset(),
    row: () => ({ ...callRow(mode, inFlight, client.tally), ...extra?.() }),
    close: () => client.close(),
  };
}

/**
 * The plan: every mode at 1 in flight, then every mode at BENCH_INFLIGHT, then each of
 * `fleetModes` as BENCH_INFLIGHT connections with one call in flight on each; cut down by
 * BENCH_ONLY (`mode:inFlight`, where 64 stands for BENCH_INFLIGHT).
 */
export function callPlan(
  modes: string[],
  open: (mode: string, inFlight: number) => Promise<Runner<CallRow>>,
  fleetModes: string[] = [],
): PlanRow<CallRow>[] {
  const plan = [1, MANY].flatMap((inFlight) =>
    modes.map((mode) => ({ key: `${mode}:${inFlight}`, group: `x${inFlight}`, open: () => open(mode, inFlight) }))
  );
  // MANY connections with one call each (fleet.ts): a group of their own, after the others.
  for (const mode of fleetModes) plan.push({ key: `${mode}:${MANY}`, group: "conns", open: () => open(mode, MANY) });
  return selectRows(plan, "mode:inFlight", (name) => name.replace(/:(\d+)$/, (_, n) => `:${n === "64" ? MANY : n}`));
}

/** A fleet row's mode ends in this; its reference is the raw fleet (`raw-conns`). */
export const FLEET_SUFFIX = "-conns";

/** Sets each row's ratios to the raw row at the same in-flight count (a fleet row's: the raw fleet's). */
export function addRatios(rows: CallRow[]): void {
  for (const r of rows) {
    const baseMode = r.mode.endsWith(FLEET_SUFFIX) ? `raw${FLEET_SUFFIX}` : "raw";
    if (r.mode === baseMode) continue;
    const base = rows.find((b) => b.mode === baseMode && b.inFlight === r.inFlight);
    if (base === undefined) continue;
    r.ratio = r.callsPerSec / base.callsPerSec;
    r.p50Ratio = r.p50us / base.p50us;
  }
}

/** The row with this mode and in-flight count. */
export function findRow(rows: CallRow[], mode: string, inFlight: number): CallRow | undefined {
  return rows.find((r) => r.mode === mode && r.inFlight === inFlight);
}

export function callTable(rows: CallRow[]): string {
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
  return render(header, lines);
}

/** The note printed under the table. */
export const CPU_NOTE = "(cpu us/call c+s: CPU time per call of the client process + the server process, all threads)";
