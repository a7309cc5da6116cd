/**
 * BENCH_PIN=1 (Linux, taskset): the bench process on CPU 0, every server on CPU 1, so raw
 * and weft rows run with the same placement. Unpinned, placement moves 1-in-flight latency
 * 3x between runs; pinned gives the steadiest ratios, for A/B-comparing engine changes.
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import type { ServerChild } from "./children.ts";
import { log } from "./output.ts";
import { PIN } from "./settings.ts";

/** Pins every thread of process `pid` to CPU `cpu` with taskset. Returns false if that did not work. */
export function pinToCpu(pid: number | undefined, cpu: number): boolean {
  if (pid === undefined) return false;
  try {
    const result = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
    return result.status === 0;
  } catch {
    return false;
  }
}

/** With BENCH_PIN=1: this process on CPU 0, every server on CPU 1. Returns whether it is pinned. */
export async function pinProcesses(servers: ServerChild[]): Promise<boolean> {
  if (!PIN) return false;
  const cpus = (await import("node:os")).cpus().length;
  const pinned = cpus >= 2 && pinToCpu(process.pid, 0) && servers.every((server) => pinToCpu(server.pid, 1));
  if (!pinned) log("BENCH_PIN: could not pin with taskset (needs Linux, 2+ CPUs), running unpinned");
  return pinned;
}
