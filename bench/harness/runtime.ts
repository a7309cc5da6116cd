/**
 * The runtime this bench process runs on (Bun, Deno or Node) and its version. Every
 * bench measures one runtime at a time, its servers running on that same runtime, so
 * this is the one place that tells them apart.
 */
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

/** Every bench socket listens and connects here, and nowhere else. */
export const HOST = "127.0.0.1";

/** The repository root (parent of bench/), the working directory children run in. */
export const repoRoot: string = fileURLToPath(new URL("../../", import.meta.url).href);

/** The absolute path of `file`, a path relative to bench/ (e.g. "servers/raw_echo.ts"). */
export function benchPath(file: string): string {
  return fileURLToPath(new URL(`../${file}`, import.meta.url).href);
}

/** What Node loads TypeScript with: see node_typescript.mjs (BENCH_NODE_LOADER=tsx for tsx). */
function nodeLoader(): string {
  if (process.env.BENCH_NODE_LOADER === "tsx") return "tsx";
  return new URL("./node_typescript.mjs", import.meta.url).href;
}

/** The command line that runs `script` (a path) on this very runtime, with `flags` before it. */
export function runtimeCommand(script: string, flags: string[]): { cmd: string; args: string[] } {
  if (runtime === "deno") return { cmd: g.Deno.execPath(), args: ["run", "-A", ...flags, script] };
  if (runtime === "bun") return { cmd: process.execPath, args: [...flags, script] };
  return { cmd: process.execPath, args: ["--import", nodeLoader(), ...flags, script] };
}
