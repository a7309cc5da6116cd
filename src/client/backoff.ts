/**
 * How long to wait before the next connection attempt: exponential backoff with jitter, as
 * gRPC's connection-backoff spec (1 s, x1.6, capped at 120 s, +-20 %). The jitter spreads
 * the clients of a restarted server so they do not all come back in the same millisecond.
 */

export interface BackoffOptions {
  /** The first delay, in ms. Default 1000. */
  initialDelay?: number;
  /** Each failure multiplies the delay by this. Default 1.6. */
  multiplier?: number;
  /** The longest delay, in ms (before jitter). Default 120000. */
  maxDelay?: number;
  /** The delay is randomised by up to this fraction either way. Default 0.2. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = Object.freeze({
  initialDelay: 1000,
  multiplier: 1.6,
  maxDelay: 120_000,
  jitter: 0.2,
});

/** Backoff options with defaults filled in; a TypeError for a value that makes no sense. */
export function backoffOptions(options: BackoffOptions = {}): Required<BackoffOptions> {
  const merged = { ...DEFAULT_BACKOFF };
  for (const key of Object.keys(DEFAULT_BACKOFF) as (keyof BackoffOptions)[]) {
    if (options[key] !== undefined) merged[key] = options[key]!; // an option left undefined keeps its default
  }
  if (!(merged.initialDelay >= 0)) throw new TypeError(`backoff.initialDelay must be >= 0, got ${merged.initialDelay}`);
  if (!(merged.multiplier >= 1)) throw new TypeError(`backoff.multiplier must be >= 1, got ${merged.multiplier}`);
  if (!(merged.maxDelay >= merged.initialDelay)) {
    throw new TypeError(`backoff.maxDelay must be >= initialDelay, got ${merged.maxDelay}`);
  }
  if (!(merged.jitter >= 0 && merged.jitter < 1)) throw new TypeError(`backoff.jitter must be in [0, 1), got ${merged.jitter}`);
  return merged;
}

/**
 * The delay before attempt `attempt` (0 is the first retry after a failure), in ms.
 * `random` is a number in [0, 1) (Math.random by default; tests pass their own).
 */
export function backoffDelay(options: Required<BackoffOptions>, attempt: number, random: number = Math.random()): number {
  const base = Math.min(options.maxDelay, options.initialDelay * options.multiplier ** attempt);
  return Math.max(0, base * (1 + options.jitter * (2 * random - 1)));
}
