/**
 * What a bench prints. Progress goes to stderr (`log`), so that with `--json` stdout holds
 * exactly one line of JSON, the last, which bench/run.mjs collects. Without it the bench
 * prints tables (`render`) and a few lines of ratios, with the formatters below.
 */
import process from "node:process";
import { runtime, runtimeVersion } from "./runtime.ts";
import type { Settings } from "./settings.ts";

/** `--json` on the command line: print one JSON object instead of tables. */
export const jsonOutput: boolean = process.argv.includes("--json");

export function log(message: string): void {
  console.error(message);
}

/** Prints the run's one JSON line. */
export function printJson(result: object): void {
  console.log(JSON.stringify(result));
}

/**
 * A plain-text table: a header, a rule, the lines; columns padded to their widest cell,
 * numbers right-aligned, the columns in `left` left-aligned (-1: the last one).
 */
export function render(header: string[], lines: string[][], left: number[] = [0, -1]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const isLeft = (i: number) => left.includes(i) || left.includes(i - header.length);
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (isLeft(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

/**
 * What a socket bench's title says about the run: e.g. "(3 s per row, one connection per
 * row, median of 3 rounds, pinned)".
 */
export function runConditions(settings: Settings, spinners: number, pinned: boolean): string {
  return `(${settings.seconds} s per row, one connection per row` +
    `${settings.rounds > 1 ? `, median of ${settings.rounds} rounds` : ""}` +
    `${spinners > 0 ? ", CPUs kept awake" : ""}${pinned ? ", pinned" : ""})`;
}

/** "bun 1.4.5" */
export function runtimeLabel(): string {
  return `${runtime} ${runtimeVersion()}`;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function fmtUs(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : "-";
}

/** A share as a whole percentage ("n/a" for null). */
export function pct(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(0)}%`;
}

/** A ratio as "1.23x" ("n/a" for null). */
export function times(x: number | null): string {
  return x === null ? "n/a" : `${x.toFixed(2)}x`;
}

/** " -> met", " -> NOT met", or nothing when there is no target. */
export function verdict(met: boolean | null): string {
  return met === null ? "" : met ? " -> met" : " -> NOT met";
}
