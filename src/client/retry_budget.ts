/**
 * A retry budget, as gRPC's retry throttling: a bucket of `maxTokens` that every failed call
 * drains by one and every success refills by `tokenRatio`. Retries are allowed only while the
 * bucket is more than half full, so when a backend is failing most calls the clients stop
 * multiplying its load: at most about `tokenRatio` retries per success, in the long run.
 *
 * The default bucket is 100 (gRPC's example uses 10 per server): a channel spreads many calls
 * over one connection, and a connection that dies fails all of its calls at once; a burst of
 * about 50 retries covers that, and the long-run ratio still holds.
 */

export interface RetryBudgetOptions {
  /** The bucket's size. Default 100. */
  maxTokens?: number;
  /** What a success puts back. Default 0.1. */
  tokenRatio?: number;
}

export class RetryBudget {
  readonly maxTokens: number;
  readonly tokenRatio: number;
  #tokens: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.maxTokens = options.maxTokens ?? 100;
    this.tokenRatio = options.tokenRatio ?? 0.1;
    if (!(this.maxTokens > 0)) throw new TypeError(`retryBudget.maxTokens must be > 0, got ${this.maxTokens}`);
    if (!(this.tokenRatio > 0)) throw new TypeError(`retryBudget.tokenRatio must be > 0, got ${this.tokenRatio}`);
    this.#tokens = this.maxTokens;
  }

  /** Tokens left. */
  get tokens(): number {
    return this.#tokens;
  }

  /** A call (or an attempt) failed in a way a retry could fix. */
  onFailure(): void {
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  /** A call succeeded. */
  onSuccess(): void {
    this.#tokens = Math.min(this.maxTokens, this.#tokens + this.tokenRatio);
  }

  /** Whether a retry may go now. */
  get allowsRetry(): boolean {
    return this.#tokens > this.maxTokens / 2;
  }
}
