/**
 * When a failed call is sent again. By default only a call that failed with `unavailable`
 * and never reached a handler (`RpcError.unprocessed`: refused before it left, or turned
 * away by a closing server), up to 3 attempts. A call marked idempotent is also retried
 * after it may have run. Retries wait a backoff, or the server's `retryAfter` when it is
 * longer, and draw on the channel's retry budget so they cannot multiply a failing
 * backend's load. A streamed reply is never retried once its first frame has arrived.
 */
import { type ErrorCode, RpcError, retryAfterOf } from "../common/errors.ts";
import { backoffDelay, type BackoffOptions, backoffOptions } from "./backoff.ts";
import type { RetryBudget } from "./retry_budget.ts";

export interface RetryPolicy {
  /** Attempts in all, the first included (1: no retries). Default 3. */
  maxAttempts?: number;
  /** Codes worth another attempt. Default `["unavailable"]`. */
  codes?: readonly ErrorCode[];
  /** The wait between attempts. Default 50 ms, x2, at most 1 s, +-20 %. */
  backoff?: BackoffOptions;
  /**
   * The call may run twice without harm: retry it even when it may have reached a handler.
   * Default false (only `unprocessed` failures are retried).
   */
  idempotent?: boolean;
}

export const DEFAULT_RETRY_BACKOFF: BackoffOptions = Object.freeze({ initialDelay: 50, multiplier: 2, maxDelay: 1000, jitter: 0.2 });

/** A policy with its defaults, checked once. */
export interface ResolvedRetry {
  readonly maxAttempts: number;
  readonly codes: ReadonlySet<ErrorCode>;
  readonly backoff: Required<BackoffOptions>;
  readonly idempotent: boolean;
}

export function resolveRetry(policy: RetryPolicy | false | undefined, base?: ResolvedRetry): ResolvedRetry {
  if (policy === false) return NO_RETRY;
  if (policy === undefined && base !== undefined) return base;
  const maxAttempts = policy?.maxAttempts ?? base?.maxAttempts ?? 3;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
    throw new TypeError(`retry.maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  return {
    maxAttempts,
    codes: policy?.codes !== undefined ? new Set(policy.codes) : base?.codes ?? new Set(["unavailable"]),
    // A partial backoff fills in from the base policy's, else from the retry defaults.
    backoff: backoffOptions({ ...(base?.backoff ?? DEFAULT_RETRY_BACKOFF), ...definedOf(policy?.backoff) }),
    idempotent: policy?.idempotent ?? base?.idempotent ?? false,
  };
}

/** The options given, without those left undefined. */
function definedOf(options: BackoffOptions | undefined): BackoffOptions {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, value]) => value !== undefined));
}

export const NO_RETRY: ResolvedRetry = Object.freeze({
  maxAttempts: 1,
  codes: new Set<ErrorCode>(),
  backoff: backoffOptions(DEFAULT_RETRY_BACKOFF),
  idempotent: false,
});

/**
 * Milliseconds to wait before attempt `attempt + 1` after `error`, or null when the call
 * must fail with it. It reads `budget` (the caller records failures and successes in it).
 */
export function retryDelay(
  policy: ResolvedRetry,
  error: unknown,
  attempt: number,
  idempotent: boolean,
  budget: RetryBudget,
): number | null {
  if (attempt + 1 >= policy.maxAttempts) return null;
  if (!(error instanceof RpcError) || !policy.codes.has(error.code)) return null;
  if (!error.unprocessed && !(idempotent || policy.idempotent)) return null;
  if (!error.unprocessed && !budget.allowsRetry) return null; // a transparent retry costs the server nothing
  const delay = backoffDelay(policy.backoff, attempt);
  const asked = retryAfterOf(error);
  return asked === undefined ? delay : Math.max(delay, asked);
}
