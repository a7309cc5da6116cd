/**
 * BENCH_KEEP_AWAKE=1 (Linux, chrt): one SCHED_IDLE busy loop per CPU, so idle vCPUs do not
 * halt. On VMs booted with guest_halt_poll_ns=0 every wake-up of a halted vCPU costs tens
 * of microseconds, which then dominates a ping-pong benchmark. SCHED_IDLE tasks run only
 * when nothing else wants the CPU and are preempted at once by any wake-up. Each loop also
 * ends by itself when the bench is gone (kill -0 $PPID).
 */
import { spawn } from "node:child_process";
import { trackChild } from "./children.ts";
import { log } from "./output.ts";
import { KEEP_AWAKE } from "./settings.ts";

/** Starts the spinners; returns how many were started. */
export async function keepAwake(): Promise<number> {
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
    trackChild(child);
    started++;
  }
  return started;
}

/** With BENCH_KEEP_AWAKE=1, starts the spinners: how many run (0 when off or unavailable). */
export async function startSpinners(): Promise<number> {
  if (!KEEP_AWAKE) return 0;
  const spinners = await keepAwake();
  if (spinners === 0) log("BENCH_KEEP_AWAKE: could not start chrt spinners, running without");
  return spinners;
}
