/**
 * Interleaved slices: the rows of one group (raw and weft at one in-flight count) each warm
 * up on their own connection, then take turns in short slices (BENCH_SLICE) until each has
 * had its measured seconds. So their ratios see the same machine load, which on a shared
 * machine moves far more than the differences being measured.
 */
import { log } from "./output.ts";
import type { Settings } from "./settings.ts";

/** One row's client as the harness drives it: its own connection, and its totals. */
export interface Runner<R> {
  /** For progress lines, e.g. "raw x64". */
  readonly label: string;
  /** Runs `ms` (one slice, or the warm-up) and adds it to the totals. */
  run(ms: number): Promise<void>;
  /** Forgets the totals (after the warm-up). */
  reset(): void;
  row(): R;
  close(): Promise<void>;
}

/** `seconds` cut into slices of about `slice` seconds: how many, and how long each is. */
export function slicing(seconds: number, slice: number): { slices: number; sliceMs: number } {
  const slices = Math.max(1, Math.round(seconds / slice));
  return { slices, sliceMs: (seconds * 1000) / slices };
}

/**
 * The order of turns over `slices` slices of `count` rows: in slice s the first turn goes to
 * row s mod count and the others follow in order, so no row always follows the same one.
 */
export function* turns(slices: number, count: number): Generator<number> {
  for (let s = 0; s < slices; s++) {
    for (let k = 0; k < count; k++) yield (s + k) % count;
  }
}

/** Measures one group: opens its runners, warms each up, interleaves the slices, closes them. */
export async function measureGroup<R>(opens: Array<() => Promise<Runner<R>>>, settings: Settings): Promise<R[]> {
  const runners: Runner<R>[] = [];
  try {
    for (const open of opens) runners.push(await open());
    for (const runner of runners) {
      log(`  warm-up ${runner.label}`);
      await runner.run(settings.warmup * 1000);
      runner.reset();
    }
    const { slices, sliceMs } = slicing(settings.seconds, settings.slice);
    log(`  measuring ${runners.map((r) => r.label).join(", ")}: ${slices} slices of ${Math.round(sliceMs)} ms each`);
    for (const i of turns(slices, runners.length)) await runners[i].run(sliceMs);
    return runners.map((runner) => runner.row());
  } finally {
    for (const runner of runners) await runner.close();
  }
}
