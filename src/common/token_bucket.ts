/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. `take()` spends one when
 * there is one; otherwise it says how long until there will be (a `retryAfter` to hand out).
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #at: number;
  readonly #now: () => number;

  constructor(rate: number, burst: number = rate, now: () => number = () => performance.now()) {
    if (!(rate > 0)) throw new TypeError(`a rate must be a positive number per second, got ${rate}`);
    if (!(burst >= 1)) throw new TypeError(`a burst must be at least 1, got ${burst}`);
    this.rate = rate;
    this.burst = burst;
    this.#tokens = burst;
    this.#now = now;
    this.#at = now();
  }

  /** 0 when a token is there, else the ms until one is; nothing is spent. */
  peek(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.rate) * 1000);
  }

  /** Spends a token: 0 when there was one, else the ms until one is there (nothing is spent). */
  take(): number {
    const wait = this.peek();
    if (wait === 0) this.#tokens -= 1;
    return wait;
  }
}
