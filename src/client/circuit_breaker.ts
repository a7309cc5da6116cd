/**
 * A circuit breaker for one endpoint. Closed, it counts outcomes in a window; when at least
 * `minCalls` ended in the window and the share of failures reaches `failureRatio`, it opens:
 * the endpoint gets no calls for `openFor` ms. Then it is half-open: `halfOpenCalls` probe
 * calls may go; if they all succeed it closes, one failure opens it again.
 */

export type BreakerState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  /** Share of failed calls in the window that opens the breaker. Default 0.5. */
  failureRatio?: number;
  /** Calls that must have ended in the window before it may open. Default 20. */
  minCalls?: number;
  /** The window over which outcomes count, in ms. Default 10000. */
  window?: number;
  /** How long it stays open before probing, in ms. Default 5000. */
  openFor?: number;
  /** Probe calls let through while half-open. Default 1. */
  halfOpenCalls?: number;
}

/** The window is kept as this many buckets, so old outcomes fall out a slice at a time. */
const BUCKETS = 10;

export class CircuitBreaker {
  readonly #ratio: number;
  readonly #minCalls: number;
  readonly #bucketMs: number;
  readonly #openFor: number;
  readonly #halfOpenCalls: number;
  readonly #now: () => number;
  #state: BreakerState = "closed";
  #openedAt = 0;
  #probes = 0;
  #probeSuccesses = 0;
  /** Calls and failures in the window's buckets, kept as they change. */
  #calls = 0;
  #failures = 0;
  /** Per bucket: [bucket number, calls, failures]. */
  readonly #buckets: [number, number, number][] = [];

  constructor(options: CircuitBreakerOptions = {}, now: () => number = () => performance.now()) {
    this.#ratio = options.failureRatio ?? 0.5;
    this.#minCalls = options.minCalls ?? 20;
    this.#bucketMs = (options.window ?? 10_000) / BUCKETS;
    this.#openFor = options.openFor ?? 5000;
    this.#halfOpenCalls = options.halfOpenCalls ?? 1;
    this.#now = now;
    if (!(this.#ratio > 0 && this.#ratio <= 1)) throw new TypeError(`breaker.failureRatio must be in (0, 1], got ${this.#ratio}`);
    if (!(this.#bucketMs > 0)) throw new TypeError(`breaker.window must be > 0, got ${options.window}`);
    if (!(this.#minCalls >= 1)) throw new TypeError(`breaker.minCalls must be >= 1, got ${this.#minCalls}`);
    if (!(this.#openFor >= 0)) throw new TypeError(`breaker.openFor must be >= 0, got ${this.#openFor}`);
    if (!(this.#halfOpenCalls >= 1)) throw new TypeError(`breaker.halfOpenCalls must be >= 1, got ${this.#halfOpenCalls}`);
  }

  /** The state now (an open breaker whose time is up reads half-open). */
  get state(): BreakerState {
    if (this.#state === "open" && this.#now() - this.#openedAt >= this.#openFor) {
      this.#state = "half-open";
      this.#probes = 0;
      this.#probeSuccesses = 0;
    }
    return this.#state;
  }

  /** Whether a call may go now; a half-open breaker counts it as one of its probes. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.#probes >= this.#halfOpenCalls) return false;
    this.#probes++;
    return true;
  }

  /** Whether a call could go now, without taking a probe. */
  get admits(): boolean {
    const state = this.state;
    return state === "closed" || (state === "half-open" && this.#probes < this.#halfOpenCalls);
  }

  /** A call that took a probe ended with nothing to say of the endpoint (cancelled): the probe is free again. */
  release(): void {
    if (this.#state === "half-open" && this.#probes > 0) this.#probes--;
  }

  /** A call through this endpoint ended. */
  record(failed: boolean): void {
    const state = this.state;
    if (state === "half-open") {
      if (failed) return this.#open();
      if (++this.#probeSuccesses >= this.#halfOpenCalls) this.#close();
      return;
    }
    if (state === "open") return;
    const bucket = this.#bucketAt(this.#now());
    bucket[1]++;
    this.#calls++;
    if (failed) {
      bucket[2]++;
      this.#failures++;
    }
    // Every outcome can tip it: a success can bring the count up to minCalls too.
    if (this.#failures > 0 && this.#calls >= this.#minCalls && this.#failures / this.#calls >= this.#ratio) this.#open();
  }

  /** The bucket of `now`, dropping those that left the window (their counts with them). */
  #bucketAt(now: number): [number, number, number] {
    const number = Math.floor(now / this.#bucketMs);
    const last = this.#buckets[this.#buckets.length - 1];
    if (last !== undefined && last[0] === number) return last;
    while (this.#buckets.length > 0 && this.#buckets[0][0] <= number - BUCKETS) {
      const [, calls, failures] = this.#buckets.shift()!;
      this.#calls -= calls;
      this.#failures -= failures;
    }
    const bucket: [number, number, number] = [number, 0, 0];
    this.#buckets.push(bucket);
    return bucket;
  }

  #open(): void {
    this.#state = "open";
    this.#openedAt = this.#now();
    this.#forget();
  }

  #close(): void {
    this.#state = "closed";
    this.#forget();
  }

  #forget(): void {
    this.#buckets.length = 0;
    this.#calls = 0;
    this.#failures = 0;
  }
}
