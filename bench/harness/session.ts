/**
 * The life of one bench process. `runBench` runs its main and exits: 0 when it finished,
 * 1 (servers killed) when it threw. `socketBench` does what every socket bench does around
 * its rows: the watchdog, the keep-awake spinners, the server children, pinning; and, however
 * the rows end, stops the servers and clears the watchdog.
 */
import process from "node:process";
import { killChildren, type ServerChild, startServer } from "./children.ts";
import { startSpinners } from "./keep_awake.ts";
import { log, runtimeLabel } from "./output.ts";
import { pinProcesses } from "./pin.ts";
import type { Settings } from "./settings.ts";
import { startWatchdog } from "./watchdog.ts";

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

/** What a socket bench's rows run with. */
export interface SocketRun<S extends string> {
  /** The servers it asked for, by name (a server not asked for is absent). */
  servers: Record<S, ServerChild>;
  /** How many keep-awake spinners run (BENCH_KEEP_AWAKE). */
  spinners: number;
  /** Whether the bench and its servers are pinned (BENCH_PIN). */
  pinned: boolean;
  /** Seconds since the bench started. */
  elapsedSeconds(): number;
}

export interface SocketBenchOptions<S extends string> {
  settings: Settings;
  /** The watchdog's budget: rows per round, and the slack each slice may overrun by (s). */
  watchdog: { rows: number; slackSeconds: number };
  /** Server children to start, by name: a file under bench/, or null for one not needed. */
  servers: Record<S, string | null>;
}

/** Runs `body` as a socket bench (see the top of this file), then exits. */
export function socketBench<S extends string>(
  options: SocketBenchOptions<S>,
  body: (run: SocketRun<S>) => Promise<void>,
): Promise<never> {
  return runBench(async () => {
    const started = Date.now();
    const { settings } = options;
    // Whatever happens, the run ends: every row is bounded, and this is the backstop.
    const watchdog = startWatchdog(settings, options.watchdog.rows, options.watchdog.slackSeconds);
    const children: ServerChild[] = [];
    try {
      const spinners = await startSpinners();
      const wanted = (Object.entries(options.servers) as Array<[S, string | null]>).filter(([, file]) => file !== null);
      const launched = await Promise.all(wanted.map(([, file]) => startServer(file!)));
      children.push(...launched);
      const servers = Object.fromEntries(wanted.map(([name], i) => [name, launched[i]])) as Record<S, ServerChild>;
      const pinned = await pinProcesses(children);
      log(
        `${runtimeLabel()}: ` + children.map((s) => `${s.name} pid ${s.pid} port ${s.port}`).join(", ") +
          `; warm-up ${settings.warmup} s, measure ${settings.seconds} s per row` +
          (spinners > 0 ? `; ${spinners} SCHED_IDLE spinners keep the CPUs awake` : "") +
          (pinned ? "; client pinned to CPU 0, servers to CPU 1" : ""),
      );
      await body({ servers, spinners, pinned, elapsedSeconds: () => (Date.now() - started) / 1000 });
    } finally {
      watchdog.clear();
      await Promise.all(children.map((server) => server.stop()));
      killChildren();
    }
  });
}
