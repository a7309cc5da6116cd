/**
 * CPU metering: the CPU time (user + system, all threads) the bench process and a server
 * child use over the measured parts of a row, read from /proc. The "cpu us/call" columns
 * divide it by the calls or messages. Where there is no /proc it reads null (columns "-").
 */
import { readFileSync } from "node:fs";

/** USER_HZ: 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;

let procReadable: boolean | null = null;

/**
 * CPU time that process `pid` has used, in ms, from /proc/<pid>/stat; null where there is no
 * /proc. Resolution is the clock tick (10 ms), fine over slices of a few hundred ms summed
 * over seconds.
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

/** Sums the CPU ms this process and one server used over the measured parts of a row. */
export class CpuMeter {
  client: number | null = 0;
  server: number | null = 0;
  #serverPid: number | undefined;
  #c0: number | null = null;
  #s0: number | null = null;
  #off = false;

  constructor(serverPid: number | undefined) {
    this.#serverPid = serverPid;
  }

  /** Stops metering for good: for a client that is one of many metered together (fleet.ts). */
  disable(): void {
    this.#off = true;
    this.client = this.server = null;
  }

  /** Starts a measured part. */
  start(): void {
    if (this.#off) return;
    this.#c0 = cpuMs("self");
    this.#s0 = this.#serverPid === undefined ? null : cpuMs(this.#serverPid);
  }

  /** Ends the measured part begun by `start`, adding the CPU both processes used meanwhile. */
  stop(): void {
    if (this.#off) return;
    const c1 = cpuMs("self");
    const s1 = this.#serverPid === undefined ? null : cpuMs(this.#serverPid);
    const c0 = this.#c0;
    const s0 = this.#s0;
    this.client = c0 === null || c1 === null || this.client === null ? null : this.client + (c1 - c0);
    this.server = s0 === null || s1 === null || this.server === null ? null : this.server + (s1 - s0);
  }

  reset(): void {
    if (this.#off) return;
    this.client = 0;
    this.server = 0;
  }
}
