/**
 * The BENCH_* environment variables, read in one place. A variable means the same in every
 * bench; only the defaults differ (a socket bench measures 3 s per row, the codec bench
 * 0.5 s per codec and case), so each bench reads its settings with its own defaults.
 * Variables that belong to one bench only (BENCH_STREAM_LEN, BENCH_CASES, ...) are read
 * by that bench, with `envNumber` and `envList` from here.
 */
import process from "node:process";

/** A positive number from an environment variable, else `fallback` (so 0 means "the default"). */
export function envNumber(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

/** A comma-separated list (items trimmed, empty ones dropped), or null when unset or blank. */
export function envList(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === "") return null;
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** How long and how often a bench measures. */
export interface Settings {
  /** BENCH_SECONDS: measured seconds per row (per codec and case, per size...). */
  readonly seconds: number;
  /** BENCH_WARMUP: warm-up seconds per row. */
  readonly warmup: number;
  /** BENCH_SLICE: the rows of a group take turns in slices of about this many seconds. */
  readonly slice: number;
  /** BENCH_ROUNDS: the whole bench repeats this many times; rows report medians. */
  readonly rounds: number;
}

export function readSettings(defaults: { seconds: number; warmup: number; slice: number }): Settings {
  return {
    seconds: envNumber(process.env.BENCH_SECONDS, defaults.seconds),
    warmup: envNumber(process.env.BENCH_WARMUP, defaults.warmup),
    slice: envNumber(process.env.BENCH_SLICE, defaults.slice),
    rounds: Math.floor(envNumber(process.env.BENCH_ROUNDS, 1)),
  };
}

/** The defaults of the socket benches (unary, typed, stream, websocket). */
export const SOCKET_DEFAULTS = { seconds: 3, warmup: 1, slice: 0.25 } as const;

/** BENCH_INFLIGHT: the "many" in-flight count of the request/reply benches (unary, typed, websocket). */
export const MANY: number = Math.floor(envNumber(process.env.BENCH_INFLIGHT, 64));

/** BENCH_PIN=1: the bench on CPU 0, its servers on CPU 1 (see pin.ts). */
export const PIN: boolean = process.env.BENCH_PIN === "1";

/** BENCH_KEEP_AWAKE=1: one SCHED_IDLE spinner per CPU (see keep_awake.ts). */
export const KEEP_AWAKE: boolean = process.env.BENCH_KEEP_AWAKE === "1";

/** BENCH_CHILD_FLAGS (space-separated): extra runtime flags for the server children, e.g. `--cpu-prof`. */
export const CHILD_FLAGS: string[] = (process.env.BENCH_CHILD_FLAGS ?? "").split(" ").filter((flag) => flag !== "");

/** BENCH_ONLY (comma-separated row names): run only these rows (see selection.ts). */
export const ONLY: string[] = (process.env.BENCH_ONLY ?? "").split(",").filter((x) => x !== "");
