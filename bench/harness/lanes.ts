/**
 * Closed-loop lanes: `inFlight` loops on one connection, each a plain `await call()` as an
 * application would write it, issuing its next call as soon as the previous one completed,
 * until the slice ends. This is how every weft row (and capnweb's) is driven.
 */
import type { Connection } from "../../mod.ts";
import type { Histogram } from "./histogram.ts";
import { type Client, Tally } from "./tally.ts";
import { withTimeout } from "./watchdog.ts";

/** Upper bound on calls per measured phase, so every loop stops by itself. */
export const MAX_CALLS = 50_000_000;

/**
 * Runs the lanes for `ms`. One clock read per call: a lane's previous completion is its
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

/** What lanes need from the connection they run on. */
export interface LaneTarget {
  /** Breaks the connection when a phase stalls, so the lanes fail. */
  onStall(): void;
  close(): Promise<void>;
}

/** Closes a weft connection gracefully, within 5 s, else destroys it; never throws. */
export async function closeConnection(conn: Connection): Promise<void> {
  await withTimeout(conn.close({ timeout: 1000 }), 5000, "weft close hung", () => conn.destroy()).catch(() => {});
}

/** A weft connection as lanes' target: a stall destroys it. */
export function connectionTarget(conn: Connection): LaneTarget {
  return {
    onStall: () => conn.destroy(new Error("bench: stalled")),
    close: () => closeConnection(conn),
  };
}

/** Lanes as a Client: the CPU metered around each phase. */
export class LaneClient implements Client {
  readonly tally: Tally;

  constructor(
    readonly label: string,
    readonly inFlight: number,
    readonly call: () => Promise<void>,
    readonly target: LaneTarget,
    serverPid: number | undefined,
  ) {
    this.tally = new Tally(serverPid);
  }

  async run(ms: number): Promise<void> {
    const tally = this.tally;
    tally.cpu.start();
    const phase = await runLanes(this.call, this.inFlight, ms, tally.hist, this.label, () => this.target.onStall());
    tally.cpu.stop();
    tally.ops += phase.calls;
    tally.seconds += phase.seconds;
  }

  reset(): void {
    this.tally.reset();
  }

  close(): Promise<void> {
    return this.target.close();
  }
}
