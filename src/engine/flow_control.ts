/**
 * Per-stream flow control, the sending half: how many bytes this side may still send on
 * one half of a stream before the receiver grants more (WINDOW_UPDATE, PROTOCOL.md §13).
 *
 * A frame costs its payload plus its 16-byte header, so a flood of empty frames is
 * bounded too. A sender may send while its credit is positive (a frame may take it below
 * zero), so one frame bigger than the window still goes through, and the receiver holds
 * at most window + one frame per stream.
 */
export class SendCredit {
  #credit: number;
  #waiters: Array<() => void> = [];
  /** Where each time a sender has to wait is counted (the connection's Link), if anywhere. */
  readonly #stalls: { creditWaits: number } | undefined;

  constructor(window: number, stalls?: { creditWaits: number }) {
    this.#credit = window;
    this.#stalls = stalls;
  }

  /** True while a frame may go out now. */
  get available(): boolean {
    return this.#credit > 0;
  }

  /** Bytes left (negative after one frame bigger than what was left). */
  get credit(): number {
    return this.#credit;
  }

  /** Accounts for a frame with this payload size. */
  consume(payloadSize: number): void {
    this.#credit -= payloadSize + FRAME_OVERHEAD;
  }

  /** The receiver read `bytes` more: let waiting senders go on. */
  grant(bytes: number): void {
    this.#credit += bytes;
    if (this.#credit > 0) this.#wake();
  }

  /** Resolves once credit is available, or the stream is over (`release`). */
  wait(): Promise<void> {
    if (this.#credit > 0) return Promise.resolve();
    if (this.#stalls !== undefined) this.#stalls.creditWaits++;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The stream ended or failed: wake anyone waiting so it can see that. */
  release(): void {
    this.#credit = Infinity;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** What a frame costs against a window beyond its payload: its header. */
export const FRAME_OVERHEAD = 16;
