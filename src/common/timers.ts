/**
 * Timers for user-given durations. `setTimeout` keeps its delay in 32 bits: a longer one
 * (a 30-day deadline, `Infinity`) fires after 1 ms instead, with a TimeoutOverflowWarning on
 * some runtimes. A delay past that limit is a chain of shorter timers here, so a long
 * deadline means a long deadline; the common, shorter case is a plain `setTimeout`.
 */

/** The longest delay `setTimeout` keeps: 2^31 - 1 ms, about 24.8 days. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A delay past MAX_TIMER_DELAY: one `setTimeout` after another until the time is up. */
class ChainedTimer {
  #handle: ReturnType<typeof setTimeout> | undefined;
  readonly #due: number;
  readonly #callback: () => void;

  constructor(callback: () => void, delay: number) {
    this.#callback = callback;
    this.#due = Date.now() + delay;
    this.#schedule();
  }

  #schedule = (): void => {
    const left = this.#due - Date.now();
    this.#handle = left > MAX_TIMER_DELAY ? setTimeout(this.#schedule, MAX_TIMER_DELAY) : setTimeout(this.#callback, left);
  };

  clear(): void {
    clearTimeout(this.#handle);
  }
}

/** What `startTimer` returns, for `stopTimer`. */
export type Timer = ReturnType<typeof setTimeout> | ChainedTimer;

/** Calls `callback` after `delay` ms, however long (`Infinity`: never). */
export function startTimer(callback: () => void, delay: number): Timer {
  return delay <= MAX_TIMER_DELAY ? setTimeout(callback, delay) : new ChainedTimer(callback, delay);
}

/** Cancels a timer from `startTimer` (undefined: nothing to cancel). */
export function stopTimer(timer: Timer | undefined): void {
  if (timer instanceof ChainedTimer) timer.clear();
  else if (timer !== undefined) clearTimeout(timer);
}

/** Why `ms` is not a duration (a number >= 0; Infinity is one), or null when it is. */
export function durationProblem(name: string, ms: unknown): string | null {
  return typeof ms === "number" && ms >= 0 ? null : `${name} must be a number of milliseconds >= 0, got ${String(ms)}`;
}

/**
 * Lets a timer not hold the process open, where the runtime's handle can say so (`unref()` on
 * Node's and Bun's); a number handle (Deno's, a browser's) is left as it is, so whoever starts
 * such a timer must also clear it when its owner closes. For background work (lease renewals,
 * waits a consumer may never come back for) that must not keep a finished program running.
 */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}
