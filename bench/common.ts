/**
 * Shared pieces of the benchmarks: runtime detection, the 48-byte bench frame, a cheap
 * latency histogram, and server child processes that always die with the bench.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

export type RuntimeName = "bun" | "deno" | "node";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

export const runtime: RuntimeName = typeof g.Bun !== "undefined"
  ? "bun"
  : typeof g.Deno !== "undefined"
  ? "deno"
  : "node";

export function runtimeVersion(): string {
  if (runtime === "bun") return g.Bun.version;
  if (runtime === "deno") return g.Deno.version.deno;
  return process.versions.node;
}

export const HOST = "127.0.0.1";
/** cmd the weft server echoes on. */
export const ECHO_CMD = 1;
export const PAYLOAD_SIZE = 32;
export const HEADER_SIZE = 16;
export const FRAME_SIZE = HEADER_SIZE + PAYLOAD_SIZE; // 48
export const LENGTH_FIELD = FRAME_SIZE - 4; // 44

/** The 32-byte payload every call carries. */
export function makePayload(): Uint8Array {
  const payload = new Uint8Array(PAYLOAD_SIZE);
  for (let i = 0; i < PAYLOAD_SIZE; i++) payload[i] = (i * 7 + 1) & 0xff;
  return payload;
}

const PAYLOAD = makePayload();

/** Writes one 48-byte qrpc frame (length 44, id `id` < 2^32, flags 0, cmd 1) at `offset`. */
export function writeBenchFrame(target: Uint8Array, offset: number, id: number): void {
  target[offset] = 0;
  target[offset + 1] = 0;
  target[offset + 2] = 0;
  target[offset + 3] = LENGTH_FIELD;
  target[offset + 4] = 0;
  target[offset + 5] = 0;
  target[offset + 6] = 0;
  target[offset + 7] = 0;
  target[offset + 8] = id >>> 24;
  target[offset + 9] = id >>> 16;
  target[offset + 10] = id >>> 8;
  target[offset + 11] = id;
  target[offset + 12] = 0;
  target[offset + 13] = 0;
  target[offset + 14] = 0;
  target[offset + 15] = ECHO_CMD;
  target.set(PAYLOAD, offset + HEADER_SIZE);
}

// ---- latency histogram ------------------------------------------------------------

/** Bucket width: 0.1 us. */
const BUCKETS_PER_MS = 10_000;
/** Range: 0..50 ms; slower samples land in the last bucket (max is still exact). */
const BUCKETS = 50 * BUCKETS_PER_MS;

/**
 * Fixed-size linear histogram of latencies in 0.1 us buckets: one multiply, one compare
 * and one increment per sample, no allocation, bounded memory (2 MB) however long the run.
 */
export class Histogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** Records `n` samples of `ms` milliseconds each. */
  add(ms: number, n = 1): void {
    let i = (ms * BUCKETS_PER_MS) | 0;
    if (i >= BUCKETS) i = BUCKETS - 1;
    else if (i < 0) i = 0;
    this.counts[i] += n;
    this.count += n;
    this.sum += ms * n;
    if (ms > this.max) this.max = ms;
  }

  /** The q-quantile (0..1) in microseconds, at the bucket's midpoint. */
  quantileUs(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    const counts = this.counts;
    for (let i = 0; i < BUCKETS; i++) {
      seen += counts[i];
      if (seen >= rank) return i === BUCKETS - 1 ? this.max * 1000 : ((i + 0.5) * 1000) / BUCKETS_PER_MS;
    }
    return this.max * 1000;
  }

  meanUs(): number {
    return this.count === 0 ? NaN : (this.sum / this.count) * 1000;
  }
}

// ---- CPU time ------------------------------------------------------------------------

let procReadable: boolean | null = null;

/**
 * CPU time (user + system, all threads) that process `pid` has used, in ms, from
 * /proc/<pid>/stat; null where there is no /proc (then CPU columns read "-"). Resolution
 * is the clock tick (10 ms), fine over slices of a few hundred ms summed over seconds.
 */
export function cpuMs(pid: number | "self"): number | null {
  if (procReadable === false) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    procReadable = true;
    // Fields after "(comm)": state is [0], utime [11], stime [12] (stat(5) fields 3, 14, 15).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
  } catch {
    procReadable ??= false;
    return null;
  }
}

/** USER_HZ: 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;

// ---- child processes ----------------------------------------------------------------

export interface ServerChild {
  readonly name: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Closes the child's stdin (it exits by itself, writing any --cpu-prof), then SIGKILLs it after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now. */
  kill(): void;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAll(): void {
  for (const child of children) {
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Belt and braces: children also exit on their own when their stdin closes, which
  // happens however this process dies.
  process.on("exit", killAll);
}

/** Kills every server child still running. Safe to call more than once. */
export function killChildren(): void {
  killAll();
}

/** Runs a bench's main and exits: 0 when it finished, 1 (servers killed) when it threw. */
export async function runBench(main: () => Promise<void>): Promise<never> {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    console.error("bench failed:", error);
    killChildren();
    process.exit(1);
  }
}

/**
 * The command line that runs `script` (a path) on this very runtime. BENCH_CHILD_FLAGS
 * (space-separated) adds runtime flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 */
function runtimeCommand(script: string): { cmd: string; args: string[] } {
  const extra = (process.env.BENCH_CHILD_FLAGS ?? "").split(" ").filter((flag) => flag !== "");
  if (runtime === "deno") return { cmd: g.Deno.execPath(), args: ["run", "-A", ...extra, script] };
  if (runtime === "bun") return { cmd: process.execPath, args: [...extra, script] };
  return { cmd: process.execPath, args: ["--import", "tsx", ...extra, script] };
}

/** The repository root (parent of bench/), the working directory children run in. */
export const repoRoot: string = fileURLToPath(new URL("..", import.meta.url).href);

/**
 * Starts `bench/<file>` on the current runtime and waits for it to print `PORT <n>`.
 * The child's stdin is a pipe it watches: when this process goes away it exits too.
 */
export function startServer(file: string, timeoutMs = 30_000): Promise<ServerChild> {
  installExitHook();
  const script = fileURLToPath(new URL(`./${file}`, import.meta.url).href);
  const { cmd, args } = runtimeCommand(script);
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  const kill = () => {
    children.delete(child);
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  return new Promise<ServerChild>((resolve, reject) => {
    let out = "";
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      kill();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`${file}: no PORT line within ${timeoutMs} ms`)), timeoutMs);
    child.on("error", (error) => fail(error));
    child.on("exit", (code, signal) => fail(new Error(`${file} exited early (code ${code}, signal ${signal})`)));
    child.stdin!.on("error", () => {}); // EPIPE if it died: the exit handler reports it
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      if (settled) return;
      out += text;
      const match = /^PORT (\d+)$/m.exec(out);
      if (match === null) return;
      settled = true;
      clearTimeout(timer);
      const stop = (graceMs = 3000) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            children.delete(child);
            return done();
          }
          const timer = setTimeout(() => {
            kill();
            done();
          }, graceMs);
          child.once("exit", () => {
            clearTimeout(timer);
            children.delete(child);
            done();
          });
          child.stdin!.end();
        });
      resolve({ name: file, port: Number(match[1]), pid: child.pid, stop, kill });
    });
  });
}

/**
 * For server children: exit when the parent goes away (stdin reaches EOF), and on
 * SIGTERM/SIGINT. Call once, after printing the port.
 */
export function exitWithParent(cleanup?: () => void): void {
  const exit = () => {
    try {
      cleanup?.();
    } finally {
      process.exit(0);
    }
  };
  if (runtime === "deno") {
    (async () => {
      const reader = g.Deno.stdin.readable.getReader();
      try {
        for (;;) {
          const { done } = await reader.read();
          if (done) break;
        }
      } catch {
        // stdin broke: the parent is gone either way
      }
      exit();
    })();
    return;
  }
  process.stdin.on("end", exit);
  process.stdin.on("error", exit);
  process.stdin.resume();
}

/**
 * Opt-in (BENCH_KEEP_AWAKE=1), Linux only: one SCHED_IDLE busy loop per CPU, so idle
 * vCPUs do not halt. On VMs booted with guest_halt_poll_ns=0 every wake-up of a halted
 * vCPU costs tens of microseconds, which then dominates a ping-pong benchmark. SCHED_IDLE
 * tasks run only when nothing else wants the CPU and are preempted at once by any
 * wake-up. Each loop also ends by itself when this process is gone (kill -0 $PPID).
 * Returns how many were started.
 */
export async function keepAwake(): Promise<number> {
  installExitHook();
  const os = await import("node:os");
  const cpus = os.cpus().length || 1;
  let started = 0;
  for (let i = 0; i < cpus; i++) {
    const child = spawn("chrt", ["-i", "0", "sh", "-c", "while kill -0 $PPID 2>/dev/null; do :; done"], {
      stdio: "ignore",
    });
    const ok = await new Promise<boolean>((resolve) => {
      child.once("error", () => resolve(false));
      child.once("spawn", () => resolve(true));
    });
    if (!ok) break;
    children.add(child);
    started++;
  }
  return started;
}

/**
 * Opt-in (BENCH_PIN=1), Linux only: pins every thread of process `pid` to CPU `cpu` with
 * taskset. Returns false if that did not work.
 */
export function pinToCpu(pid: number | undefined, cpu: number): boolean {
  if (pid === undefined) return false;
  try {
    const result = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
    return result.status === 0;
  } catch {
    return false;
  }
}

/** Announces the listening port to the parent. */
export function announcePort(port: number): void {
  // console.log is synchronous enough on all three runtimes for one short line.
  console.log(`PORT ${port}`);
}

/** Rejects with `message` if `promise` is not settled within `ms`; `onTimeout` runs first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string, onTimeout?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(message));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- shared by stream.ts and unary_harness.ts (unary.ts, typed.ts) -----------------

/** cmd the weft server streams on: the request payload is a u32 count, each reply frame one 32-byte payload. */
export const STREAM_CMD = 3;

/** A 4-byte big-endian u32. */
export function u32(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  bytes[0] = n >>> 24;
  bytes[1] = n >>> 16;
  bytes[2] = n >>> 8;
  bytes[3] = n;
  return bytes;
}

/** The big-endian u32 at `offset` (0 when the bytes are not there). */
export function readU32(bytes: Uint8Array, offset = 0): number {
  if (bytes.length < offset + 4) return 0;
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** qrpc's 16-byte header writer: weft's own, so the raw benches encode exactly what weft does. */
export { writeHeader } from "../src/wire/frame.ts";

/** A positive number from an environment variable, else `fallback`. */
export function envNumber(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Sums the CPU ms this process and one server used over the measured parts of a row. */
export class CpuMeter {
  client: number | null = 0;
  server: number | null = 0;
  #serverPid: number | undefined;
  #c0: number | null = null;
  #s0: number | null = null;

  constructor(serverPid: number | undefined) {
    this.#serverPid = serverPid;
  }

  /** Starts a measured part. */
  start(): void {
    this.#c0 = cpuMs("self");
    this.#s0 = this.#serverPid === undefined ? null : cpuMs(this.#serverPid);
  }

  /** Ends the measured part begun by `start`, adding the CPU both processes used meanwhile. */
  stop(): void {
    const c1 = cpuMs("self");
    const s1 = this.#serverPid === undefined ? null : cpuMs(this.#serverPid);
    const c0 = this.#c0;
    const s0 = this.#s0;
    this.client = c0 === null || c1 === null || this.client === null ? null : this.client + (c1 - c0);
    this.server = s0 === null || s1 === null || this.server === null ? null : this.server + (s1 - s0);
  }

  reset(): void {
    this.client = 0;
    this.server = 0;
  }
}

/** Upper bound on calls per measured phase, so every loop stops by itself. */
export const MAX_CALLS = 50_000_000;

/**
 * Closed-loop calls: `inFlight` lanes, each issuing `call()` as soon as its previous one
 * completed, until `ms` pass. One clock read per call: a lane's previous completion is its
 * next issue time. Each call's latency goes into `hist`. `onStall` runs if the phase
 * overruns by 10 s (it should break the connection, so the lanes fail).
 */
export async function runLanes(
  call: () => Promise<void>,
  inFlight: number,
  ms: number,
  hist: Histogram,
  label: string,
  onStall: () => void,
): Promise<{ calls: number; seconds: number }> {
  const start = performance.now();
  const deadline = start + ms;
  let calls = 0;
  let last = start;
  const lane = async () => {
    let t = performance.now();
    while (t < deadline && calls < MAX_CALLS) {
      await call();
      const now = performance.now();
      hist.add(now - t);
      calls++;
      t = now;
    }
    if (t > last) last = t;
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < inFlight; i++) lanes.push(lane());
  await withTimeout(Promise.all(lanes), ms + 10_000, `${label} stalled (${calls} calls done)`, onStall);
  return { calls, seconds: (last - start) / 1000 };
}
