/**
 * A bell that loops wait on: a subscription waiting for the next publish, a watch waiting for
 * the next change. `ring()` wakes every current waiter at once; a waiter also wakes when its
 * signal aborts or, if it gave one, after a delay (a lease that runs out). Nothing is queued:
 * a waiter looks at the state again when it wakes, so a ring between two waits is not lost as
 * long as the loop checks the state before waiting, which each loop here does.
 */
import { unrefTimer } from "../common/timers.ts";

/** Wakes the loops waiting on it. */
export class Bell {
  #waiters: (() => void)[] = [];

  /** Wakes every waiter. */
  ring(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next ring, when `signal` aborts, or after `delayMs` (if given and finite). */
  wait(signal?: AbortSignal, delayMs?: number): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", wake);
        const at = this.#waiters.indexOf(wake);
        if (at >= 0) this.#waiters.splice(at, 1);
        resolve();
      };
      this.#waiters.push(wake);
      signal?.addEventListener("abort", wake, { once: true });
      if (delayMs !== undefined && Number.isFinite(delayMs)) {
        timer = setTimeout(wake, Math.max(0, delayMs));
        unrefTimer(timer);
      }
    });
  }
}
