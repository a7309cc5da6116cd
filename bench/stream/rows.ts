/**
 * The stream bench's rows: one per mode (raw, raw-msg, weft), part (stream: server
 * streaming; 1mib: the 1 MiB echo) and concurrency; where their clients connect; their
 * figures from a client's tally; their ratios to raw (and to raw-msg); and the two tables.
 */
import type { Connection } from "../../mod.ts";
import type { Runner } from "../harness/interleave.ts";
import { fmtInt, render } from "../harness/output.ts";
import type { Client, Tally } from "../harness/tally.ts";
import { PAYLOAD_SIZE } from "../harness/wire.ts";
import { BULK_SIZE, CANCEL, MiB } from "./settings.ts";

export type Part = "stream" | "1mib";
/**
 * raw: the cut-through ceiling; raw-msg: the store-and-forward one (1mib only); weft; and
 * weft-lend: weft with lent payloads at both ends (1mib only).
 */
export type Mode = "raw" | "raw-msg" | "weft" | "weft-lend";

export interface Row {
  bench: Part;
  mode: Mode;
  /** Concurrent streams (stream) or calls in flight (1mib), on one connection. */
  concurrency: number;
  /** Messages/s (stream) or calls/s (1mib). */
  opsPerSec: number;
  ops: number;
  seconds: number;
  /** stream: payload MB/s (10^6 B); 1mib: MiB/s each way. */
  mbPerSec: number;
  /** 1mib only: per-call latency. */
  p50us?: number;
  p99us?: number;
  /**
   * stream only: mean ms per slice from the client's stop (break / reset) until the connection
   * is quiet again (weft: the fence call's reply; raw: every end frame). Not measured time.
   */
  cancelMs?: number;
  /** CPU time per message (stream) or per call (1mib) of this process and the server, all threads; Linux only. */
  clientCpuUs: number | null;
  serverCpuUs: number | null;
  /** With BENCH_ROUNDS > 1: ops/s of each round (the row holds medians). */
  rounds?: number[];
  /** ops/s over raw's in the same group. */
  ratio?: number;
  /** weft and weft-lend 1mib rows: ops/s over raw-msg's in the same group. */
  msgRatio?: number;
}

/** A row's name, as BENCH_ONLY takes it: "weft-stream:1", "raw-1mib:4". */
export const keyOf = (mode: Mode, part: Part, concurrency: number) => `${mode}-${part}:${concurrency}`;

/** Where a row's client connects: its part's raw servers (if started), and weft's server. */
export interface Targets {
  raw: { port: number; pid: number | undefined } | undefined;
  /** The store-and-forward echo (1mib only). */
  rawMsg?: { port: number; pid: number | undefined } | undefined;
  /** A new connection to the weft server. */
  weft: () => Promise<Connection>;
  /** A new connection, lending payloads, to the weft server that lends them (1mib only). */
  weftLending?: () => Promise<Connection>;
  weftLendingPid?: number | undefined;
  weftPid: number | undefined;
}

/** A client as one row's runner. */
export function runnerOf(part: Part, mode: Mode, concurrency: number, client: Client): Runner<Row> {
  return {
    label: keyOf(mode, part, concurrency),
    run: (ms) => client.run(ms),
    reset: () => client.reset(),
    row: () => rowOf(part, mode, concurrency, client.tally),
    close: () => client.close(),
  };
}

export function rowOf(part: Part, mode: Mode, concurrency: number, tally: Tally): Row {
  const opsPerSec = tally.seconds > 0 ? tally.ops / tally.seconds : 0;
  const { cpu, ops } = tally;
  const r: Row = {
    bench: part,
    mode,
    concurrency,
    opsPerSec,
    ops,
    seconds: tally.seconds,
    mbPerSec: part === "stream" ? (opsPerSec * PAYLOAD_SIZE) / 1e6 : (opsPerSec * BULK_SIZE) / MiB,
    clientCpuUs: cpu.client === null || ops === 0 ? null : (cpu.client * 1000) / ops,
    serverCpuUs: cpu.server === null || ops === 0 ? null : (cpu.server * 1000) / ops,
  };
  if (part === "1mib") {
    r.p50us = tally.hist.quantileUs(0.5);
    r.p99us = tally.hist.quantileUs(0.99);
  } else if (CANCEL) {
    r.cancelMs = tally.cancels === 0 ? 0 : tally.cancelMs / tally.cancels;
  }
  return r;
}

/**
 * Sets each row's ratio to the raw row of the same part and concurrency, and each weft
 * row's to the raw-msg row's.
 */
export function addRatios(rows: Row[]): void {
  const over = (r: Row, mode: Mode) => {
    const base = rows.find((b) => b.mode === mode && b.bench === r.bench && b.concurrency === r.concurrency);
    return base !== undefined && base.opsPerSec > 0 ? r.opsPerSec / base.opsPerSec : undefined;
  };
  for (const r of rows) {
    if (r.mode === "raw") continue;
    r.ratio = over(r, "raw");
    if (r.mode === "weft" || r.mode === "weft-lend") r.msgRatio = over(r, "raw-msg");
  }
}

function cpuCell(r: Row, digits: number): string {
  return r.clientCpuUs === null || r.serverCpuUs === null
    ? "-"
    : `${r.clientCpuUs.toFixed(digits)}+${r.serverCpuUs.toFixed(digits)}`;
}

const share = (ratio: number | undefined) => (ratio === undefined ? "-" : `${(ratio * 100).toFixed(0)}%`);
const vsRaw = (r: Row) => share(r.ratio);

export function streamTable(rows: Row[]): string {
  const lines = rows.map((r) => [
    r.mode,
    String(r.concurrency),
    fmtInt(r.opsPerSec),
    r.mbPerSec.toFixed(1),
    cpuCell(r, 3),
    r.cancelMs === undefined ? "-" : r.cancelMs.toFixed(1),
    vsRaw(r),
  ]);
  const header = ["mode", "streams", "msgs/s", "MB/s", "cpu us/msg c+s", "cancel ms", "vs raw"];
  if (!CANCEL) {
    header.splice(5, 1);
    for (const line of lines) line.splice(5, 1);
  }
  return render(header, lines);
}

export function bulkTable(rows: Row[]): string {
  return render(
    ["mode", "in flight", "calls/s", "MiB/s each way", "p50 ms", "p99 ms", "cpu us/call c+s", "vs raw", "vs raw-msg"],
    rows.map((r) => [
      r.mode,
      String(r.concurrency),
      fmtInt(r.opsPerSec),
      fmtInt(r.mbPerSec),
      r.p50us === undefined ? "-" : (r.p50us / 1000).toFixed(2),
      r.p99us === undefined ? "-" : (r.p99us / 1000).toFixed(2),
      cpuCell(r, 0),
      vsRaw(r),
      share(r.msgRatio),
    ]),
  );
}
