/**
 * Heartbeats, once both ends speak weft: a PING every interval (the two ends use the smaller
 * of theirs), and a peer silent for three intervals is presumed dead. A half-open TCP
 * connection never says so itself; this fails its calls with `unavailable` within four
 * intervals of the peer's last frame.
 */
import { Op } from "../wire/control.ts";
import type { Sender } from "./sender.ts";

const EMPTY = new Uint8Array(0);

/** Both ends heartbeat at the smaller of their intervals; 0 on either side turns it off. */
export function agreedInterval(mine: number, theirs: number): number {
  return mine > 0 && theirs > 0 ? Math.min(mine, theirs) : 0;
}

/** What closes a connection whose peer went silent: instrumentation counts these as heartbeat losses. */
export class HeartbeatLost extends Error {}

export class Liveness {
  readonly #sender: Sender;
  readonly #onDead: (error: Error) => void;
  /** The interval in use; 0 until heartbeats start (the read loop then skips `heard`). */
  intervalMs = 0;
  #lastHeard = 0;
  #timer: ReturnType<typeof setInterval> | undefined = undefined;

  constructor(sender: Sender, onDead: (error: Error) => void) {
    this.#sender = sender;
    this.#onDead = onDead;
  }

  /** Something arrived from the peer: it is alive. */
  heard(): void {
    this.#lastHeard = performance.now();
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.intervalMs = intervalMs;
    this.#lastHeard = performance.now();
    this.#timer = setInterval(() => {
      const silentFor = performance.now() - this.#lastHeard;
      if (silentFor > 3 * intervalMs) {
        this.#onDead(new HeartbeatLost(`no frame from the peer for ${Math.round(silentFor)} ms (heartbeat every ${intervalMs} ms)`));
        return;
      }
      this.#sender.control(Op.Ping, EMPTY);
    }, intervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
