/**
 * What a row's client adds up over its measured slices: operations (calls or messages),
 * the seconds they took, their latencies, and the CPU the bench and the server used. Every
 * client measures into one (weft's lanes, the raw reference clients, capnweb's), and the
 * bench turns it into its row. After the warm-up it is reset.
 */
import { CpuMeter } from "./cpu.ts";
import { Histogram } from "./histogram.ts";

export class Tally {
  /** Calls (request/reply rows) or messages (stream rows) completed in measured time. */
  ops = 0;
  /** Measured seconds: each slice up to its last completion. */
  seconds = 0;
  /**
   * stream with BENCH_STREAM_CANCEL=1: ms per slice from the client's stop until its
   * connection was quiet, summed over `cancels` slices. Not measured time.
   */
  cancelMs = 0;
  cancels = 0;
  readonly hist = new Histogram();
  readonly cpu: CpuMeter;

  constructor(serverPid: number | undefined) {
    this.cpu = new CpuMeter(serverPid);
  }

  reset(): void {
    this.ops = this.seconds = this.cancelMs = this.cancels = 0;
    this.cpu.reset();
    this.hist.reset();
  }
}

/** A client measuring into a Tally: each `run(ms)` is one slice (or the warm-up). */
export interface Client {
  readonly tally: Tally;
  run(ms: number): Promise<void>;
  /** Forgets what was measured (after the warm-up). */
  reset(): void;
  close(): Promise<void>;
}
