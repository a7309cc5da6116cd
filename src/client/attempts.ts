/**
 * How a channel sends a call: on a usable endpoint at once when there is one (the engine's
 * own call goes back to the caller: nothing else is made), else as a WaitingCall until one is
 * ready. Either way the call is the channel's to relay (the engine's CallRelay seam): when the
 * peer resets it or its connection closes before any reply, and the retry policy allows,
 * the channel takes it over and another attempt, elsewhere, carries it. Calls in flight per
 * endpoint, its breaker and the retry budget are kept as calls end.
 */
import { RpcError } from "../common/errors.ts";
import { startTimer } from "../common/timers.ts";
import type { Connection } from "../engine/api.ts";
import type { Call, CallRelay, PendingCall } from "../engine/call.ts";
import type { ChannelCallOptions } from "./options.ts";
import type { Pool } from "./pool.ts";
import { WaitingCall, WaitingStream } from "./waiting_call.ts";
import { NO_RETRY, type ResolvedRetry, resolveRetry, retryDelay } from "./retry.ts";
import type { RetryBudget } from "./retry_budget.ts";
import type { Subchannel } from "./subchannel.ts";

/** Codes that say an endpoint is unwell (its breaker counts them), not that a call was wrong. */
const ENDPOINT_FAILURES = new Set(["unavailable", "deadline_exceeded", "internal", "unknown", "data_loss"]);

/** Waiting calls are numbered on their own (they are not on any wire). */
let waitingIds = 1;

/**
 * One attempt of a call: the engine's CallRelay for it (handing over to Attempts), and
 * everything needed to make the next one.
 */
class Attempt implements CallRelay {
  /** Where it runs; set when it starts (a call waiting for an endpoint has none yet). */
  subchannel: Subchannel | null = null;

  constructor(
    readonly attempts: Attempts,
    /** The call the caller holds: this attempt's own, or the one it carries on for. */
    public original: PendingCall | null,
    readonly cmd: number,
    /** The request's one payload, or null for a request stream (never replayed). */
    readonly payload: Uint8Array | null,
    readonly options: ChannelCallOptions | undefined,
    readonly retry: ResolvedRetry,
    readonly number: number,
    /** performance.now() when the caller stops waiting, or Infinity. */
    readonly deadline: number,
  ) {}

  /** The attempt after this one, for the same call. */
  next(): Attempt {
    return new Attempt(this.attempts, this.original, this.cmd, this.payload, this.options, this.retry, this.number + 1, this.deadline);
  }

  rescue(_call: PendingCall, error: RpcError): boolean {
    return this.attempts.rescue(this, error);
  }

  ended(_call: PendingCall, error: unknown): void {
    this.attempts.ended(this, error);
  }
}

export class Attempts {
  readonly #pool: Pool;
  readonly #budget: RetryBudget;
  readonly #retry: ResolvedRetry;
  readonly #readyTimeout: number;

  constructor(pool: Pool, budget: RetryBudget, retry: ResolvedRetry, readyTimeout: number) {
    this.#pool = pool;
    this.#budget = budget;
    this.#retry = retry;
    this.#readyTimeout = readyTimeout;
  }

  /** A call with one request frame. */
  open(cmd: number, payload: Uint8Array, options: ChannelCallOptions | undefined): PendingCall {
    const retry = options?.retry === undefined ? this.#retry : resolveRetry(options.retry, this.#retry);
    return this.#first(new Attempt(this, null, cmd, payload, options, retry, 0, deadlineOf(options)));
  }

  /** A call with a request stream: it may wait for a connection, but is not retried once sent. */
  call(cmd: number, options: ChannelCallOptions | undefined): Call {
    return this.#first(new Attempt(this, null, cmd, null, options, NO_RETRY, 0, deadlineOf(options))) as Call;
  }

  /**
   * A call's first attempt: the engine's own call on a usable endpoint (handed back as it
   * is), else a waiting call that an attempt will carry once an endpoint is ready.
   */
  #first(attempt: Attempt): PendingCall {
    const { cmd, payload, options } = attempt;
    refuseIfAborted(cmd, options);
    const subchannel = this.#pick(options?.hashKey);
    if (subchannel !== null) {
      try {
        const connection = subchannel.connection!;
        const call = payload === null ? connection.call(cmd, options) : connection.open(cmd, payload, options);
        attempt.original = call;
        this.#track(call, attempt, subchannel);
        return call;
      } catch (error) {
        subchannel.breaker?.release();
        if (!(error instanceof RpcError && error.unprocessed)) throw error; // refused for what it is
      }
    }
    const waiting = payload === null ? new WaitingStream(waitingIds++, cmd, options) : new WaitingCall(waitingIds++, cmd, options);
    attempt.original = waiting;
    void this.#startWhenReady(attempt, waiting.signal);
    return waiting;
  }

  // ---- what each Attempt, the engine's CallRelay for its call, hands over ----------------

  /** An attempt failed before any reply: take it over when the policy allows another. */
  rescue(attempt: Attempt, error: RpcError): boolean {
    if (attempt.payload === null || attempt.original!.settled) return false;
    const delay = retryDelay(attempt.retry, error, attempt.number, attempt.options?.idempotent === true, this.#budget);
    if (delay === null || performance.now() + delay >= attempt.deadline) return false;
    startTimer(() => this.#again(attempt), delay);
    return true;
  }

  /** An attempt ended: count it for its endpoint's load and breaker, and the budget. */
  ended(attempt: Attempt, error: unknown): void {
    const subchannel = attempt.subchannel!;
    subchannel.inFlight--;
    if (error === undefined) {
      subchannel.breaker?.record(false);
      this.#budget.onSuccess();
      return;
    }
    const code = error instanceof RpcError ? error.code : "unknown";
    if (code === "cancelled") return subchannel.breaker?.release(); // the caller's doing, not the endpoint's
    subchannel.breaker?.record(ENDPOINT_FAILURES.has(code));
    // A call the server never ran cost it nothing: only the others draw on the budget.
    if (attempt.retry.codes.has(code as RpcError["code"]) && !(error instanceof RpcError && error.unprocessed)) {
      this.#budget.onFailure();
    }
  }

  // ---- sending -------------------------------------------------------------------------

  /**
   * A usable endpoint for a call, its breaker's probe taken when half-open (so one probe goes,
   * not every call woken at once); null when there is none.
   */
  #pick(key: string | undefined): Subchannel | null {
    const subchannel = this.#pool.picker.pick(key);
    return subchannel === null || subchannel.breaker === null || subchannel.breaker.tryAcquire() ? subchannel : null;
  }

  #track(call: PendingCall, attempt: Attempt, subchannel: Subchannel): void {
    attempt.subchannel = subchannel;
    subchannel.inFlight++;
    call.relay = attempt;
  }

  /** The next attempt of a call taken over: on a usable endpoint, carrying the original. */
  #again(previous: Attempt): void {
    if (previous.original!.settled) return;
    const next = previous.next();
    const subchannel = this.#pick(next.options?.hashKey);
    if (subchannel === null) void this.#startWhenReady(next, signalOf(next.original!));
    else this.#start(next, subchannel);
  }

  /** Starts `attempt` on `subchannel`, carrying the call the caller holds. */
  #start(attempt: Attempt, subchannel: Subchannel): void {
    const { original, cmd, payload, options, deadline } = attempt;
    const connection = subchannel.connection;
    if (connection === null) { // lost since it was picked: pick again
      subchannel.breaker?.release();
      return void this.#startWhenReady(attempt, signalOf(original!));
    }
    const attemptOptions = optionsFor(options, deadline);
    let call: PendingCall;
    try {
      call = payload === null ? connection.call(cmd, attemptOptions) : connection.open(cmd, payload, attemptOptions);
    } catch (error) {
      subchannel.breaker?.release();
      // Refused before it left: retry if the policy says so, else the call fails with it.
      const delay = retryDelay(attempt.retry, error, attempt.number, options?.idempotent === true, this.#budget);
      if (delay === null || performance.now() + delay >= deadline) return original!.giveUp(error);
      startTimer(() => this.#again(attempt), delay);
      return;
    }
    this.#track(call, attempt, subchannel);
    original!.carry(call);
  }

  /** Waits for a usable endpoint (the channel's bound, or the call's own deadline), then starts. */
  async #startWhenReady(attempt: Attempt, signal: AbortSignal): Promise<void> {
    const original = attempt.original!;
    const key = attempt.options?.hashKey;
    let subchannel: Subchannel;
    try {
      // The channel's bound, unless the call's own deadline comes first: then its timer
      // settles the call (deadline_exceeded), which ends the wait through the signal.
      const bound = performance.now() + this.#readyTimeout;
      subchannel = await this.#pool.usable(bound < attempt.deadline ? bound : Infinity, signal, () => this.#pick(key));
    } catch (error) {
      if (!original.settled) original.giveUp(error);
      return;
    }
    if (!original.settled) this.#start(attempt, subchannel);
  }
}

function deadlineOf(options: ChannelCallOptions | undefined): number {
  return options?.timeout === undefined ? Infinity : performance.now() + options.timeout;
}

/** An attempt's options: the caller's, with what is left of its timeout, and none of the channel's. */
function optionsFor(options: ChannelCallOptions | undefined, deadline: number): ChannelCallOptions | undefined {
  if (options === undefined) return undefined;
  const { signal: _signal, retry: _retry, hashKey: _key, idempotent: _idempotent, ...rest } = options;
  if (deadline !== Infinity) rest.timeout = Math.max(0, deadline - performance.now());
  return rest;
}

/** A call whose signal has already aborted is refused before anything, as a connection refuses it. */
function refuseIfAborted(cmd: number, options: ChannelCallOptions | undefined): void {
  const signal = options?.signal;
  if (signal?.aborted) {
    throw new RpcError("cancelled", `call to cmd ${cmd} was cancelled before it started`, { cause: signal.reason, unprocessed: true });
  }
}

/** A signal that aborts once `call` settles: a waiting call has its own; the engine's gets one here. */
function signalOf(call: PendingCall): AbortSignal {
  if (call instanceof WaitingCall || call instanceof WaitingStream) return call.signal;
  const abort = new AbortController();
  const done = () => abort.abort();
  call.response.then(done, done);
  return abort.signal;
}
