/**
 * Server middleware that limits calls with token buckets: per connection (each client its
 * own budget) and per procedure (one budget for a procedure across every client, or one per
 * named procedure). A call over a limit is refused before its handler runs with
 * `resource_exhausted`, `details.retryAfter` (ms until it would pass), `refused` (the caller
 * receives it `unprocessed`), so
 * a channel whose retry policy lists `resource_exhausted` waits that long and tries again.
 */
import { RpcError } from "../common/errors.ts";
import { TokenBucket } from "../common/token_bucket.ts";
import type { Connection } from "../engine/api.ts";
import type { Context, Middleware } from "./context.ts";

/** `rate` calls a second, with bursts of up to `burst` (default: one second's worth). */
export interface RateRule {
  rate: number;
  burst?: number;
}

export interface RateLimitOptions {
  /** Each connection's calls, all procedures together. */
  perConnection?: RateRule;
  /** Each procedure's calls from every connection: one rule for all, or rules by dotted name. */
  perProcedure?: RateRule | Record<string, RateRule>;
}

const isRule = (value: unknown): value is RateRule => typeof (value as RateRule)?.rate === "number";

/** A middleware that refuses calls over the limits (see the module comment). */
export function rateLimit(options: RateLimitOptions): Middleware<Context> {
  const perConnection = options.perConnection;
  const byConnection = new WeakMap<Connection, TokenBucket>();
  const byProcedure = new Map<string, TokenBucket | null>();
  const procedureRule = (path: string): RateRule | undefined => {
    const rules = options.perProcedure;
    return rules === undefined ? undefined : isRule(rules) ? rules : rules[path];
  };
  if (perConnection !== undefined) new TokenBucket(perConnection.rate, perConnection.burst); // checks the rule now
  return (ctx, next) => {
    let bucket = byProcedure.get(ctx.path);
    if (bucket === undefined) {
      const rule = procedureRule(ctx.path);
      bucket = rule === undefined ? null : new TokenBucket(rule.rate, rule.burst);
      byProcedure.set(ctx.path, bucket);
    }
    let own: TokenBucket | undefined;
    if (perConnection !== undefined) {
      own = byConnection.get(ctx.connection);
      if (own === undefined) byConnection.set(ctx.connection, own = new TokenBucket(perConnection.rate, perConnection.burst));
    }
    // Both are checked before either is spent: a call one refuses costs the other nothing.
    if (own !== undefined) refuseIfDry(own, "this connection");
    if (bucket !== null) refuseIfDry(bucket, `"${ctx.path}"`);
    own?.take();
    bucket?.take();
    return next();
  };
}

function refuseIfDry(bucket: TokenBucket, what: string): void {
  const wait = bucket.peek();
  if (wait === 0) return;
  throw new RpcError("resource_exhausted", `rate limit of ${what} (${bucket.rate}/s): try again in ${wait} ms`, {
    details: { retryAfter: wait },
    refused: true,
  });
}
