/**
 * A lease kept alive: `renew` runs every third of the lease, so two renewals in a row may fail
 * (a registry restarting, a network blip) before it runs out. A failed renewal is retried
 * sooner, and reported, never thrown: a registry being down must not crash the instance
 * that is registered in it. Its timer never holds the process open (where the runtime allows).
 */
import { unrefTimer } from "../common/timers.ts";

/** Renews something every third of `ttlMs` until stopped. */
export class Lease {
  readonly #renew: () => Promise<void>;
  readonly #interval: number;
  readonly #onError: (error: unknown) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(ttlMs: number, renew: () => Promise<void>, onError: (error: unknown) => void) {
    this.#renew = renew;
    this.#interval = Math.max(1, Math.floor(ttlMs / 3));
    this.#onError = onError;
    this.#schedule(this.#interval);
  }

  /** Stops renewing (a renewal already running finishes, and schedules nothing). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(this.#tick, delay);
    unrefTimer(this.#timer);
  }

  #tick = async (): Promise<void> => {
    try {
      await this.#renew();
      this.#schedule(this.#interval);
    } catch (error) {
      if (this.#stopped) return;
      this.#onError(error);
      this.#schedule(Math.max(1, Math.floor(this.#interval / 3)));
    }
  };
}

/** Why `ttlMs` is not a usable lease (a finite number of ms >= 10), or null when it is. */
export function leaseProblem(ttlMs: unknown): string | null {
  return typeof ttlMs === "number" && Number.isFinite(ttlMs) && ttlMs >= 10
    ? null
    : `ttlMs must be a finite number of milliseconds >= 10, got ${String(ttlMs)}`;
}
