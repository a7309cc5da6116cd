/**
 * Streaming and bulk benchmark: weft against raw TCP ceilings, on the runtime this file is
 * started with. Servers run in child processes (same runtime, 127.0.0.1, port 0); the
 * clients run here. `node bench/run.mjs --bench=stream` runs it on all three runtimes.
 *
 *   npx bun bench/stream.ts [--json]
 *   npx deno run -A bench/stream.ts [--json]
 *   node --import tsx bench/stream.ts [--json]        (from the repository root)
 *
 * 1. Server streaming, 32-byte messages, one frame each, at 1 and at BENCH_STREAMS (4)
 *    concurrent streams on one connection.
 *    - weft: `conn.request(3, u32(n), { nonBlocking: true })` answered by an async generator
 *      handler that yields one 32-byte payload per message (bench/weft_server.ts); the
 *      client walks the reply with `for await`.
 *    - raw: bench/raw_stream_server.ts writes pre-encoded 48-byte frames (16 B header + 32 B
 *      payload, flags Stream, the request's id) in 48 KiB blocks as fast as the socket takes
 *      them; the client (bench/raw_frames.ts) parses every frame, routes it by id and counts it.
 *    Each stream asks for BENCH_STREAM_LEN messages (100,000) and is read to its end; each
 *    lane (one per concurrent stream) starts streams one after another until the slice is
 *    over, so a slice ends with its last stream (nothing is left in flight, and the CPU
 *    columns are exact). msgs/s = messages / time to the last one.
 *    With BENCH_STREAM_CANCEL=1 (BENCH_STREAM_LEN then defaults to 1,000,000) the client
 *    instead stops at the slice's end: weft breaks out of the `for await`, which resets the
 *    stream, then makes one echo call on the connection, whose reply follows every frame the
 *    server wrote before it saw the reset; raw sends resets and waits for the end frames the
 *    server answers them with. "cancel ms" is that wait per slice (not measured time): when
 *    it approaches the rest of the stream, the server did not read the reset until its
 *    stream was done. In this mode msgs/s counts messages up to the stop, and the CPU
 *    columns are approximate (the server's work on frames still in flight is included).
 *    MB/s is payload bytes (10^6); on the wire each message is 1.5x that.
 * 2. 1 MiB unary echo at 1 and at BENCH_BULK_INFLIGHT (4) calls in flight on one connection.
 *    - weft: `conn.request(1, oneMiB, { nonBlocking: true })`, echoed by the cmd-1 handler.
 *    - raw: a 16-byte header then the 1 MiB payload (two writes, as weft's writer does),
 *      echoed byte for byte by bench/raw_echo_server.ts; the client reads the whole frame
 *      back (header checked, payload skipped) before counting the call.
 *    MiB/s is per direction (each call moves 1 MiB each way).
 *
 * As in unary.ts: the rows of one group (same bench, same concurrency) each have their own
 * connection, warm up, then take turns in BENCH_SLICE slices so their ratios see the same
 * machine load. "cpu" is process CPU time (all threads, /proc) per message or per call,
 * client + server, over the measured parts of the slices.
 *
 * Env:
 *   BENCH_SECONDS=3, BENCH_WARMUP=1, BENCH_ROUNDS=1, BENCH_SLICE=0.25, BENCH_PIN=1,
 *   BENCH_KEEP_AWAKE=1, BENCH_CHILD_FLAGS=...   as in unary.ts
 *   BENCH_STREAMS=4          the "many" concurrent-stream count
 *   BENCH_STREAM_LEN=100000  messages each stream asks for (1000000 with BENCH_STREAM_CANCEL=1)
 *   BENCH_STREAM_CANCEL=1    stop streams at the slice's end with a reset (see 1.)
 *   BENCH_BULK_INFLIGHT=4    the "many" in-flight count of the 1 MiB echo
 *   BENCH_BULK_SIZE=1048576  payload bytes of the bulk echo
 *   BENCH_ONLY=weft-stream:1,raw-stream:1     run only these rows (mode-bench:concurrency;
 *                                             modes raw|weft, benches stream|1mib)
 */
import process from "node:process";
import type { Connection } from "../mod.ts";
import { loadAdapter } from "./adapter.ts";
import {
  CpuMeter,
  ECHO_CMD,
  envNumber,
  Histogram,
  HEADER_SIZE,
  HOST,
  keepAwake,
  killChildren,
  makePayload,
  median,
  PAYLOAD_SIZE,
  pinToCpu,
  runtime,
  runLanes,
  runtimeVersion,
  type ServerChild,
  startServer,
  STREAM_CMD,
  u32,
  withTimeout,
  writeHeader,
  runBench,
} from "./common.ts";
import { FrameScanner } from "./reference/frame_scanner.ts";
import { openRawSocket, type RawSocket } from "./reference/raw_socket.ts";

const json = process.argv.includes("--json");
const SECONDS = envNumber(process.env.BENCH_SECONDS, 3);
const WARMUP = envNumber(process.env.BENCH_WARMUP, 1);
const ROUNDS = Math.floor(envNumber(process.env.BENCH_ROUNDS, 1));
const SLICE = envNumber(process.env.BENCH_SLICE, 0.25);
const KEEP_AWAKE = process.env.BENCH_KEEP_AWAKE === "1";
const PIN = process.env.BENCH_PIN === "1";
const STREAMS = Math.floor(envNumber(process.env.BENCH_STREAMS, 4));
/** Break out of streams at the slice's end (resets) instead of reading each one to its end. */
const CANCEL = process.env.BENCH_STREAM_CANCEL === "1";
const STREAM_LEN = Math.min(
  0xffffffff,
  Math.floor(envNumber(process.env.BENCH_STREAM_LEN, CANCEL ? 1_000_000 : 100_000)),
);
const BULK_INFLIGHT = Math.floor(envNumber(process.env.BENCH_BULK_INFLIGHT, 4));
const BULK_SIZE = Math.min(10 * 1024 * 1024 - 12, Math.floor(envNumber(process.env.BENCH_BULK_SIZE, 1024 * 1024)));
/** Hard caps per slice, so every loop ends even if the clock misbehaves. */
const MAX_REQUESTS_PER_SLICE = 100_000;
/** How long a slice may overrun before it counts as stalled: 10 s, plus one stream at 50 k messages/s. */
const STREAM_SLACK_MS = 10_000 + STREAM_LEN / 50;
/** CANCEL: weft stream lanes read the clock every this many messages (a power of two, minus one). */
const CLOCK_MASK = 255;

const FLAG_STREAM = 0x01;
const FLAG_END = 0x02;
const FLAG_RST = 0x04;
const RESET_CANCELLED = 1;
const MiB = 1024 * 1024;

function log(message: string): void {
  console.error(message);
}

type Bench = "stream" | "1mib";
type Mode = "raw" | "weft";

export interface Row {
  bench: Bench;
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
}

const keyOf = (mode: Mode, bench: Bench, concurrency: number) => `${mode}-${bench}:${concurrency}`;

interface Runner {
  readonly mode: Mode;
  readonly bench: Bench;
  readonly concurrency: number;
  /** Runs one slice of `ms` and adds it to the totals (after warm-up, call `reset`). */
  run(ms: number): Promise<void>;
  reset(): void;
  row(): Row;
  close(): Promise<void>;
}

/** Totals over a runner's measured slices. */
class Totals {
  ops = 0;
  seconds = 0;
  cancelMs = 0;
  slices = 0;
  readonly cpu: CpuMeter;
  readonly hist = new Histogram();

  constructor(serverPid: number | undefined) {
    this.cpu = new CpuMeter(serverPid);
  }

  reset(): void {
    this.ops = this.seconds = this.cancelMs = this.slices = 0;
    this.cpu.reset();
    this.hist.reset();
  }

  row(bench: Bench, mode: Mode, concurrency: number): Row {
    const opsPerSec = this.seconds > 0 ? this.ops / this.seconds : 0;
    const cpu = this.cpu;
    const r: Row = {
      bench,
      mode,
      concurrency,
      opsPerSec,
      ops: this.ops,
      seconds: this.seconds,
      mbPerSec: bench === "stream" ? (opsPerSec * PAYLOAD_SIZE) / 1e6 : (opsPerSec * BULK_SIZE) / MiB,
      clientCpuUs: cpu.client === null || this.ops === 0 ? null : (cpu.client * 1000) / this.ops,
      serverCpuUs: cpu.server === null || this.ops === 0 ? null : (cpu.server * 1000) / this.ops,
    };
    if (bench === "1mib") {
      r.p50us = this.hist.quantileUs(0.5);
      r.p99us = this.hist.quantileUs(0.99);
    } else if (CANCEL) {
      r.cancelMs = this.slices === 0 ? 0 : this.cancelMs / this.slices;
    }
    return r;
  }
}

// ---- raw streaming ---------------------------------------------------------------------

/**
 * The streaming ceiling's client: `concurrency` streams on one raw connection. It parses
 * every frame, checks it belongs to an open stream, and counts it.
 */
class RawStreamRunner implements Runner {
  readonly mode = "raw" as const;
  readonly bench = "stream" as const;
  readonly totals: Totals;
  #socket!: RawSocket;
  #scanner: FrameScanner;
  #open = new Set<number>();
  #nextId = 1;
  #measuring = false;
  #deadline = 0;
  #count = 0;
  #stoppedAt = 0;
  #done: (() => void) | null = null;
  #failed: ((error: Error) => void) | null = null;
  #error: Error | null = null;

  private constructor(readonly concurrency: number, serverPid: number | undefined) {
    this.totals = new Totals(serverPid);
    this.#scanner = new FrameScanner((id, flags, _cmd, payloadLength) => this.#frame(id, flags, payloadLength));
  }

  static async open(port: number, concurrency: number, serverPid: number | undefined): Promise<RawStreamRunner> {
    const runner = new RawStreamRunner(concurrency, serverPid);
    runner.#socket = await openRawSocket(port, {
      onChunk: (chunk) => runner.#chunk(chunk),
      onError: (error) => runner.#fail(error),
    });
    return runner;
  }

  #chunk(chunk: Uint8Array): void {
    try {
      this.#scanner.scan(chunk);
    } catch (error) {
      this.#fail(error as Error);
      this.#socket.close();
      return;
    }
    if (CANCEL && this.#measuring) {
      const now = performance.now();
      if (now >= this.#deadline) this.#stopMeasuring(now);
    }
  }

  #frame(id: number, flags: number, payloadLength: number): void {
    if (!this.#open.has(id)) throw new Error(`raw stream: frame for unknown stream ${id}`);
    if ((flags & FLAG_END) !== 0) {
      this.#open.delete(id);
      if (!this.#measuring) {
        if (this.#open.size === 0) this.#finish();
        return;
      }
      if (CANCEL) return this.#startStream();
      // Read to the end: a new stream while the slice lasts, else stop with the last one.
      const now = performance.now();
      if (now < this.#deadline) this.#startStream();
      else if (this.#open.size === 0) this.#stopMeasuring(now);
      return;
    }
    if (payloadLength !== PAYLOAD_SIZE) throw new Error(`raw stream: ${payloadLength}-byte payload`);
    if (this.#measuring) this.#count++;
  }

  #startStream(): void {
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 2) >>> 0;
    this.#open.add(id);
    const request = new Uint8Array(HEADER_SIZE + 4);
    writeHeader(request, 0, id, 0, STREAM_CMD, 4);
    request.set(u32(STREAM_LEN), HEADER_SIZE);
    this.#socket.send(request);
  }

  #stopMeasuring(now: number): void {
    this.#measuring = false;
    this.#stoppedAt = now;
    this.totals.cpu.stop();
    if (this.#open.size === 0) return this.#finish();
    // CANCEL: reset what is still open; the server answers each reset with an end frame.
    const resets = new Uint8Array(this.#open.size * HEADER_SIZE);
    let at = 0;
    for (const id of this.#open) {
      writeHeader(resets, at, id, FLAG_RST, RESET_CANCELLED, 0);
      at += HEADER_SIZE;
    }
    this.#socket.send(resets);
  }

  #finish(): void {
    const done = this.#done;
    this.#done = this.#failed = null;
    done?.();
  }

  #fail(error: Error): void {
    this.#error ??= error;
    const failed = this.#failed;
    this.#done = this.#failed = null;
    failed?.(error);
  }

  async run(ms: number): Promise<void> {
    if (this.#error !== null) throw this.#error;
    const done = new Promise<void>((resolve, reject) => {
      this.#done = resolve;
      this.#failed = reject;
    });
    this.totals.cpu.start();
    const start = performance.now();
    this.#deadline = start + ms;
    this.#count = 0;
    this.#measuring = true;
    for (let i = 0; i < this.concurrency; i++) this.#startStream();
    await withTimeout(
      done,
      ms + STREAM_SLACK_MS,
      `raw stream stalled (${this.#count} messages)`,
      () => this.#socket.close(),
    );
    this.totals.ops += this.#count;
    this.totals.seconds += (this.#stoppedAt - start) / 1000;
    if (CANCEL) {
      this.totals.cancelMs += performance.now() - this.#stoppedAt;
      this.totals.slices++;
    }
  }

  reset(): void {
    this.totals.reset();
  }

  row(): Row {
    return this.totals.row(this.bench, this.mode, this.concurrency);
  }

  close(): Promise<void> {
    this.#done = this.#failed = null;
    this.#socket.close();
    return Promise.resolve();
  }
}

// ---- weft streaming --------------------------------------------------------------------

const NON_BLOCKING = { nonBlocking: true } as const;
const PAYLOAD = makePayload();
const STREAM_REQUEST = u32(STREAM_LEN);

class WeftStreamRunner implements Runner {
  readonly mode = "weft" as const;
  readonly bench = "stream" as const;
  readonly totals: Totals;
  #conn: Connection;

  constructor(conn: Connection, readonly concurrency: number, serverPid: number | undefined) {
    this.#conn = conn;
    this.totals = new Totals(serverPid);
  }

  async run(ms: number): Promise<void> {
    const conn = this.#conn;
    this.totals.cpu.start();
    const start = performance.now();
    const deadline = start + ms;
    let total = 0;
    let last = start;
    // One stream after another until the slice ends, as an application would write it;
    // each read to its end, or (CANCEL) left with a `break` when the slice ends.
    const lane = async () => {
      let n = 0;
      for (let requests = 0; requests < MAX_REQUESTS_PER_SLICE; requests++) {
        const reply = await conn.request(STREAM_CMD, STREAM_REQUEST, NON_BLOCKING);
        let stopped = false;
        for await (const chunk of reply) {
          if (chunk.length !== PAYLOAD_SIZE) throw new Error(`weft stream: ${chunk.length}-byte message`);
          if ((++n & CLOCK_MASK) === 0 && CANCEL) {
            const t = performance.now();
            if (t >= deadline) {
              if (t > last) last = t;
              stopped = true;
              break; // resets the stream
            }
          }
        }
        if (stopped) break;
        const t = performance.now();
        if (t >= deadline) {
          if (t > last) last = t;
          break;
        }
      }
      total += n;
    };
    const lanes: Promise<void>[] = [];
    for (let i = 0; i < this.concurrency; i++) lanes.push(lane());
    await withTimeout(
      Promise.all(lanes),
      ms + STREAM_SLACK_MS,
      "weft stream stalled",
      () => conn.destroy(new Error("bench: stalled")),
    );
    this.totals.cpu.stop();
    this.totals.ops += total;
    this.totals.seconds += (last - start) / 1000;
    if (!CANCEL) return; // every stream was read to its end: nothing in flight
    // Fence: this reply follows every frame the server sent before it saw the resets.
    await withTimeout(
      conn.request(ECHO_CMD, PAYLOAD, NON_BLOCKING),
      10_000,
      "weft stream: fence call stalled",
      () => conn.destroy(new Error("bench: stalled")),
    );
    this.totals.cancelMs += performance.now() - last;
    this.totals.slices++;
  }

  reset(): void {
    this.totals.reset();
  }

  row(): Row {
    return this.totals.row(this.bench, this.mode, this.concurrency);
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    await withTimeout(conn.close({ timeout: 1000 }), 5000, "weft close hung", () => conn.destroy()).catch(() => {});
  }
}

// ---- 1 MiB echo ---------------------------------------------------------------------------

function makeBulk(): Uint8Array {
  const bytes = new Uint8Array(BULK_SIZE);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

const BULK = makeBulk();

/** Raw 1 MiB echo: `concurrency` frames in flight; each completed frame is replaced by a new one. */
class RawBulkRunner implements Runner {
  readonly mode = "raw" as const;
  readonly bench = "1mib" as const;
  readonly totals: Totals;
  #socket!: RawSocket;
  #scanner: FrameScanner;
  #sendTimes: Float64Array;
  #sent = 0;
  #received = 0;
  #active = false;
  #deadline = 0;
  #completed = 0;
  #last = 0;
  #done: (() => void) | null = null;
  #failed: ((error: Error) => void) | null = null;
  #error: Error | null = null;

  private constructor(readonly concurrency: number, serverPid: number | undefined) {
    this.totals = new Totals(serverPid);
    this.#sendTimes = new Float64Array(concurrency);
    // keepUpTo 0: bulk payloads are skipped, never copied.
    this.#scanner = new FrameScanner((id, _flags, cmd, payloadLength) => this.#frame(id, cmd, payloadLength), 0);
  }

  static async open(port: number, concurrency: number, serverPid: number | undefined): Promise<RawBulkRunner> {
    const runner = new RawBulkRunner(concurrency, serverPid);
    runner.#socket = await openRawSocket(port, {
      onChunk: (chunk) => {
        try {
          runner.#scanner.scan(chunk);
        } catch (error) {
          runner.#fail(error as Error);
          runner.#socket.close();
        }
      },
      onError: (error) => runner.#fail(error),
    });
    return runner;
  }

  #send(now: number): void {
    const seq = this.#sent++;
    const header = new Uint8Array(HEADER_SIZE);
    writeHeader(header, 0, (2 * seq + 1) >>> 0, 0, ECHO_CMD, BULK_SIZE);
    this.#sendTimes[seq % this.concurrency] = now;
    this.#socket.send(header);
    this.#socket.send(BULK);
  }

  #frame(id: number, cmd: number, payloadLength: number): void {
    const seq = this.#received++;
    if (id !== ((2 * seq + 1) >>> 0) || cmd !== ECHO_CMD || payloadLength !== BULK_SIZE) {
      throw new Error(`raw echo: unexpected frame id ${id} cmd ${cmd} length ${payloadLength}`);
    }
    const now = performance.now();
    this.totals.hist.add(now - this.#sendTimes[seq % this.concurrency]);
    this.#completed++;
    this.#last = now;
    if (this.#active && now >= this.#deadline) this.#active = false;
    if (this.#active) this.#send(now);
    else if (this.#received === this.#sent) {
      const done = this.#done;
      this.#done = this.#failed = null;
      done?.();
    }
  }

  #fail(error: Error): void {
    this.#error ??= error;
    const failed = this.#failed;
    this.#done = this.#failed = null;
    failed?.(error);
  }

  async run(ms: number): Promise<void> {
    if (this.#error !== null) throw this.#error;
    const done = new Promise<void>((resolve, reject) => {
      this.#done = resolve;
      this.#failed = reject;
    });
    this.totals.cpu.start();
    const start = performance.now();
    this.#deadline = start + ms;
    this.#active = true;
    this.#completed = 0;
    for (let i = 0; i < this.concurrency; i++) this.#send(start);
    await withTimeout(done, ms + 10_000, `raw 1 MiB echo stalled (${this.#completed} calls)`, () => this.#socket.close());
    this.totals.cpu.stop();
    this.totals.ops += this.#completed;
    this.totals.seconds += (this.#last - start) / 1000;
  }

  reset(): void {
    this.totals.reset();
  }

  row(): Row {
    return this.totals.row(this.bench, this.mode, this.concurrency);
  }

  close(): Promise<void> {
    this.#done = this.#failed = null;
    this.#socket.close();
    return Promise.resolve();
  }
}

class WeftBulkRunner implements Runner {
  readonly mode = "weft" as const;
  readonly bench = "1mib" as const;
  readonly totals: Totals;
  #conn: Connection;

  constructor(conn: Connection, readonly concurrency: number, serverPid: number | undefined) {
    this.#conn = conn;
    this.totals = new Totals(serverPid);
  }

  async run(ms: number): Promise<void> {
    const conn = this.#conn;
    this.totals.cpu.start();
    const { calls, seconds } = await runLanes(
      async () => {
        const response = await conn.request(ECHO_CMD, BULK, NON_BLOCKING);
        if (response.payload.length !== BULK_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
      },
      this.concurrency,
      ms,
      this.totals.hist,
      "weft 1 MiB echo",
      () => conn.destroy(new Error("bench: stalled")),
    );
    this.totals.cpu.stop();
    this.totals.ops += calls;
    this.totals.seconds += seconds;
  }

  reset(): void {
    this.totals.reset();
  }

  row(): Row {
    return this.totals.row(this.bench, this.mode, this.concurrency);
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    await withTimeout(conn.close({ timeout: 1000 }), 5000, "weft close hung", () => conn.destroy()).catch(() => {});
  }
}

// ---- measuring -------------------------------------------------------------------------

/** One group's rows: each warms up on its own connection, then they take turns in slices. */
async function measureGroup(modes: Mode[], open: (mode: Mode) => Promise<Runner>): Promise<Row[]> {
  const runners: Runner[] = [];
  try {
    for (const mode of modes) runners.push(await open(mode));
    for (const runner of runners) {
      log(`  warm-up ${keyOf(runner.mode, runner.bench, runner.concurrency)}`);
      await runner.run(WARMUP * 1000);
      runner.reset();
    }
    const slices = Math.max(1, Math.round(SECONDS / SLICE));
    const sliceMs = (SECONDS * 1000) / slices;
    const label = runners.map((r) => keyOf(r.mode, r.bench, r.concurrency)).join(", ");
    log(`  measuring ${label}: ${slices} slices of ${Math.round(sliceMs)} ms each`);
    for (let s = 0; s < slices; s++) {
      for (let k = 0; k < runners.length; k++) await runners[(s + k) % runners.length].run(sliceMs);
    }
    return runners.map((runner) => runner.row());
  } finally {
    for (const runner of runners) await runner.close();
  }
}

function medianRow(rounds: Row[]): Row {
  if (rounds.length === 1) return rounds[0];
  const m = (pick: (r: Row) => number) => median(rounds.map(pick));
  const r: Row = {
    bench: rounds[0].bench,
    mode: rounds[0].mode,
    concurrency: rounds[0].concurrency,
    opsPerSec: m((r) => r.opsPerSec),
    ops: m((r) => r.ops),
    seconds: m((r) => r.seconds),
    mbPerSec: m((r) => r.mbPerSec),
    clientCpuUs: rounds.some((r) => r.clientCpuUs === null) ? null : m((r) => r.clientCpuUs!),
    serverCpuUs: rounds.some((r) => r.serverCpuUs === null) ? null : m((r) => r.serverCpuUs!),
    rounds: rounds.map((x) => Math.round(x.opsPerSec)),
  };
  if (rounds[0].cancelMs !== undefined) r.cancelMs = m((r) => r.cancelMs!);
  if (rounds[0].p50us !== undefined) {
    r.p50us = m((r) => r.p50us!);
    r.p99us = m((r) => r.p99us!);
  }
  return r;
}

// ---- report ---------------------------------------------------------------------------

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function cpuCell(r: Row, digits: number): string {
  return r.clientCpuUs === null || r.serverCpuUs === null
    ? "-"
    : `${r.clientCpuUs.toFixed(digits)}+${r.serverCpuUs.toFixed(digits)}`;
}

function render(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

const vsRaw = (r: Row) => (r.ratio === undefined ? "-" : `${(r.ratio * 100).toFixed(0)}%`);

function streamTable(rows: Row[]): string {
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

function bulkTable(rows: Row[]): string {
  return render(
    ["mode", "in flight", "calls/s", "MiB/s each way", "p50 ms", "p99 ms", "cpu us/call c+s", "vs raw"],
    rows.map((r) => [
      r.mode,
      String(r.concurrency),
      fmtInt(r.opsPerSec),
      fmtInt(r.mbPerSec),
      r.p50us === undefined ? "-" : (r.p50us / 1000).toFixed(2),
      r.p99us === undefined ? "-" : (r.p99us / 1000).toFixed(2),
      cpuCell(r, 0),
      vsRaw(r),
    ]),
  );
}

// ---- main -----------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const plan: Array<[Mode, Bench, number]> = [
    ["raw", "stream", 1],
    ["weft", "stream", 1],
    ["raw", "stream", STREAMS],
    ["weft", "stream", STREAMS],
    ["raw", "1mib", 1],
    ["weft", "1mib", 1],
    ["raw", "1mib", BULK_INFLIGHT],
    ["weft", "1mib", BULK_INFLIGHT],
  ];
  // Two rows may coincide (BENCH_STREAMS=1): keep each once.
  for (let i = plan.length - 1; i >= 0; i--) {
    if (plan.findIndex((p) => keyOf(...p) === keyOf(...plan[i])) !== i) plan.splice(i, 1);
  }
  const only = (process.env.BENCH_ONLY ?? "").split(",").filter((x) => x !== "");
  if (only.length > 0) {
    const wanted = new Set(only);
    for (let i = plan.length - 1; i >= 0; i--) if (!wanted.has(keyOf(...plan[i]))) plan.splice(i, 1);
    if (plan.length === 0) {
      throw new Error(`BENCH_ONLY=${only.join(",")} matches no row (e.g. weft-stream:1, raw-1mib:${BULK_INFLIGHT})`);
    }
  }

  // Whatever happens, the run ends: every slice is bounded, and this is the backstop.
  const slicesPerRow = Math.max(1, Math.round(SECONDS / SLICE));
  const budgetMs = plan.length * ROUNDS * (WARMUP + SECONDS + (2 * STREAM_SLACK_MS / 1000) * (slicesPerRow + 1)) * 1000 +
    60_000;
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
    const needs = (mode: Mode, bench: Bench) => plan.some(([m, b]) => m === mode && b === bench);
    const weftNeeded = plan.some(([m]) => m === "weft");
    const [rawStreamServer, rawEchoServer, weftServer] = await Promise.all([
      needs("raw", "stream") ? startServer("servers/raw_stream.ts") : null,
      needs("raw", "1mib") ? startServer("servers/raw_echo.ts") : null,
      weftNeeded ? startServer("servers/weft_tcp.ts") : null,
    ]);
    for (const s of [rawStreamServer, rawEchoServer, weftServer]) if (s !== null) servers.push(s);
    let pinned = false;
    if (PIN) {
      // Client on CPU 0, servers on CPU 1: the same placement for raw and weft rows.
      const cpus = (await import("node:os")).cpus().length;
      pinned = cpus >= 2 && pinToCpu(process.pid, 0) && servers.every((s) => pinToCpu(s.pid, 1));
      if (!pinned) log("BENCH_PIN: could not pin with taskset (needs Linux, 2+ CPUs), running unpinned");
    }
    log(
      `${runtime} ${runtimeVersion()}: ` + servers.map((s) => `${s.name} pid ${s.pid} port ${s.port}`).join(", ") +
        `; warm-up ${WARMUP} s, measure ${SECONDS} s per row` +
        (spinners > 0 ? `; ${spinners} SCHED_IDLE spinners keep the CPUs awake` : "") +
        (pinned ? "; client pinned to CPU 0, servers to CPU 1" : ""),
    );

    const open = (bench: Bench, concurrency: number) => async (mode: Mode): Promise<Runner> => {
      if (mode === "raw") {
        return bench === "stream"
          ? await RawStreamRunner.open(rawStreamServer!.port, concurrency, rawStreamServer!.pid)
          : await RawBulkRunner.open(rawEchoServer!.port, concurrency, rawEchoServer!.pid);
      }
      const conn = await connect({ hostname: HOST, port: weftServer!.port });
      return bench === "stream"
        ? new WeftStreamRunner(conn, concurrency, weftServer!.pid)
        : new WeftBulkRunner(conn, concurrency, weftServer!.pid);
    };

    const samples = new Map<string, Row[]>(plan.map((p) => [keyOf(...p), []]));
    const groups: Array<[Bench, number]> = [];
    for (const [, bench, n] of plan) if (!groups.some(([b, c]) => b === bench && c === n)) groups.push([bench, n]);
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) log(`  round ${round}/${ROUNDS}`);
      for (const [bench, n] of groups) {
        const modes = plan.filter(([, b, c]) => b === bench && c === n).map(([m]) => m);
        for (const r of await measureGroup(modes, open(bench, n))) samples.get(keyOf(r.mode, r.bench, r.concurrency))!.push(r);
      }
    }
    const rows = [...samples.values()].map(medianRow);
    for (const r of rows) {
      if (r.mode === "raw") continue;
      const base = rows.find((b) => b.mode === "raw" && b.bench === r.bench && b.concurrency === r.concurrency);
      if (base !== undefined && base.opsPerSec > 0) r.ratio = r.opsPerSec / base.opsPerSec;
    }

    const find = (mode: Mode, bench: Bench, n: number) =>
      rows.find((r) => r.mode === mode && r.bench === bench && r.concurrency === n);
    const STREAM_TARGET = 1_000_000;
    const BULK_TARGET = 0.7;
    const streamTargetApplies = runtime !== "deno";
    const streamCheck = (n: number) => {
      const r = find("weft", "stream", n);
      return {
        streams: n,
        msgsPerSec: r?.opsPerSec ?? null,
        ratio: r?.ratio ?? null,
        met: r === undefined || !streamTargetApplies ? null : r.opsPerSec >= STREAM_TARGET,
      };
    };
    const bulkCheck = (n: number) => {
      const r = find("weft", "1mib", n);
      const ratio = r?.ratio ?? null;
      return { inFlight: n, ratio, met: ratio === null ? null : ratio >= BULK_TARGET };
    };
    const checks = {
      streamTarget: STREAM_TARGET,
      stream: [...new Set([1, STREAMS])].map(streamCheck),
      bulkTarget: BULK_TARGET,
      bulk: [...new Set([1, BULK_INFLIGHT])].map(bulkCheck),
    };

    if (json) {
      console.log(JSON.stringify({
        bench: "stream",
        runtime,
        version: runtimeVersion(),
        seconds: SECONDS,
        warmup: WARMUP,
        rounds: ROUNDS,
        streamLength: STREAM_LEN,
        streamCancel: CANCEL,
        payloadBytes: PAYLOAD_SIZE,
        bulkBytes: BULK_SIZE,
        keepAwake: spinners,
        pinned,
        rows,
        checks,
        elapsedSeconds: (Date.now() - started) / 1000,
      }));
    } else {
      const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(0)}%`);
      const verdict = (met: boolean | null) => (met === null ? "" : met ? " -> met" : " -> NOT met");
      const setting = `${runtime} ${runtimeVersion()} (${SECONDS} s per row, one connection per row` +
        `${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ""}${spinners > 0 ? ", CPUs kept awake" : ""}` +
        `${pinned ? ", pinned" : ""})`;
      const streamRows = rows.filter((r) => r.bench === "stream");
      const bulkRows = rows.filter((r) => r.bench === "1mib");
      if (streamRows.length > 0) {
        const how = CANCEL ? "stopped with a reset at each slice's end" : "each read to its end";
        console.log(
          `\nserver streaming, ${PAYLOAD_SIZE} B messages, one frame each, streams of ${fmtInt(STREAM_LEN)} ` +
            `messages ${how}, ${setting}`,
        );
        console.log(streamTable(streamRows));
        console.log(
          "(MB/s: payload bytes, 10^6; cpu us/msg c+s: CPU time per message, client + server process" +
            (CANCEL ? ";\n cancel ms: per slice, from the client's stop until the connection is quiet, not measured time)" : ")"),
        );
        for (const c of checks.stream) {
          if (c.msgsPerSec === null) continue;
          console.log(
            `stream x${c.streams}: weft ${(c.msgsPerSec / 1e6).toFixed(2)} M msgs/s (target >= 1 M/s on Bun and Node)` +
              `${verdict(c.met)}; weft/raw = ${pct(c.ratio)}`,
          );
        }
      }
      if (bulkRows.length > 0) {
        const size = BULK_SIZE === MiB ? "1 MiB" : `${BULK_SIZE} B`;
        console.log(`\n${size} unary echo, ${setting}`);
        console.log(bulkTable(bulkRows));
        console.log("(MiB/s each way: the payload goes out and comes back; cpu us/call c+s: client + server process)");
        for (const c of checks.bulk) {
          if (c.ratio === null) continue;
          console.log(`${size}, ${c.inFlight} in flight: weft/raw = ${pct(c.ratio)} (target 70%)${verdict(c.met)}`);
        }
      }
    }
  } finally {
    clearTimeout(watchdog);
    await Promise.all(servers.map((server) => server.stop()));
    killChildren();
  }
}

await runBench(main);
