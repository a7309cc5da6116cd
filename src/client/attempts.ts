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

/** What the channel notes on each attempt: the engine's CallRelay for that call, handing over to Attempts. */
class Attempt implements CallRelay {
  constructor(
    readonly attempts: Attempts,
    /** The call the caller holds: this attempt, or the one it carries on for. */
    readonly original: PendingCall,
    readonly subchannel: Subchannel,
    readonly cmd: number,
    /** The request's one payload, or null for a request stream (never replayed). */
    readonly payload: Uint8Array | null,
    readonly options: ChannelCallOptions | undefined,
    readonly retry: ResolvedRetry,
    readonly number: number,
    /** performance.now() when the caller stops waiting, or Infinity. */
    readonly deadline: number,
  ) {}

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
    refuseIfAborted(cmd, options);
    const retry = options?.retry === undefined ? this.#retry : resolveRetry(options.retry, this.#retry);
    const subchannel = this.#pick(options?.hashKey);
    if (subchannel !== null) {
      try {
        const call = subchannel.connection!.open(cmd, payload, options);
        this.#track(call, new Attempt(this, call, subchannel, cmd, payload, options, retry, 0, deadlineOf(options)), subchannel);
        return call;
      } catch (error) {
        subchannel.breaker?.release();
        if (!(error instanceof RpcError && error.unprocessed)) throw error; // refused for what it is
      }
    }
    const waiting = new WaitingCall(waitingIds++, cmd, options);
    void this.#startWhenReady(waiting, waiting.signal, cmd, payload, options, retry, 0, deadlineOf(options));
    return waiting;
  }

  /** A call with a request stream: it may wait for a connection, but is not retried once sent. */
  call(cmd: number, options: ChannelCallOptions | undefined): Call {
    refuseIfAborted(cmd, options);
    const subchannel = this.#pick(options?.hashKey);
    if (subchannel !== null) {
      try {
        const call = subchannel.connection!.call(cmd, options);
        this.#track(call, new Attempt(this, call, subchannel, cmd, null, options, NO_RETRY, 0, deadlineOf(options)), subchannel);
        return call;
      } catch (error) {
        subchannel.breaker?.release();
        if (!(error instanceof RpcError && error.unprocessed)) throw error;
      }
    }
    const waiting = new WaitingStream(waitingIds++, cmd, options);
    void this.#startWhenReady(waiting, waiting.signal, cmd, null, options, NO_RETRY, 0, deadlineOf(options));
    return waiting;
  }

  // ---- what each Attempt, the engine's CallRelay for its call, hands over ----------------

  /** An attempt failed before any reply: take it over when the policy allows another. */
  rescue(attempt: Attempt, error: RpcError): boolean {
    if (attempt.payload === null || attempt.original.settled) return false;
    const delay = retryDelay(attempt.retry, error, attempt.number, attempt.options?.idempotent === true, this.#budget);
    if (delay === null || performance.now() + delay >= attempt.deadline) return false;
    startTimer(() => this.#again(attempt), delay);
    return true;
  }

  /** An attempt ended: count it for its endpoint's load and breaker, and the budget. */
  ended(attempt: Attempt, error: unknown): void {
    const subchannel = attempt.subchannel;
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
    subchannel.inFlight++;
    call.relay = attempt;
  }

  /** The next attempt of a call taken over: on a usable endpoint, carrying the original. */
  #again(previous: Attempt): void {
    const original = previous.original;
    if (original.settled) return;
    const subchannel = this.#pick(previous.options?.hashKey);
    if (subchannel === null) {
      const signal = signalOf(original);
      void this.#startWhenReady(original, signal, previous.cmd, previous.payload, previous.options, previous.retry, previous.number + 1, previous.deadline);
      return;
    }
    this.#start(original, subchannel, previous.cmd, previous.payload, previous.options, previous.retry, previous.number + 1, previous.deadline);
  }

  /** Starts an attempt on `subchannel` that carries `original`. */
  #start(
    original: PendingCall,
    subchannel: Subchannel,
    cmd: number,
    payload: Uint8Array | null,
    options: ChannelCallOptions | undefined,
    retry: ResolvedRetry,
    number: number,
    deadline: number,
  ): void {
    const connection = subchannel.connection;
    if (connection === null) { // lost since it was picked: pick again
      subchannel.breaker?.release();
      return void this.#startWhenReady(original, signalOf(original), cmd, payload, options, retry, number, deadline);
    }
    const attemptOptions = optionsFor(options, deadline);
    let call: PendingCall;
    try {
      call = payload === null ? connection.call(cmd, attemptOptions) : connection.open(cmd, payload, attemptOptions);
    } catch (error) {
      subchannel.breaker?.release();
      // Refused before it left: retry if the policy says so, else the call fails with it.
      const delay = retryDelay(retry, error, number, options?.idempotent === true, this.#budget);
      if (delay === null || performance.now() + delay >= deadline) return original.giveUp(error);
      const next = new Attempt(this, original, subchannel, cmd, payload, options, retry, number, deadline);
      startTimer(() => this.#again(next), delay);
      return;
    }
    this.#track(call, new Attempt(this, original, subchannel, cmd, payload, options, retry, number, deadline), subchannel);
    original.carry(call);
  }

  /** Waits for a usable endpoint (the channel's bound, or the call's own deadline), then starts. */
  async #startWhenReady(
    original: PendingCall,
    signal: AbortSignal,
    cmd: number,
    payload: Uint8Array | null,
    options: ChannelCallOptions | undefined,
    retry: ResolvedRetry,
    number: number,
    deadline: number,
  ): Promise<void> {
    const key = options?.hashKey;
    let subchannel: Subchannel;
    try {
      // The channel's bound, unless the call's own deadline comes first: then its timer
      // settles the call (deadline_exceeded), which ends the wait through the signal.
      const bound = performance.now() + this.#readyTimeout;
      subchannel = await this.#pool.usable(bound < deadline ? bound : Infinity, signal, () => this.#pick(key));
    } catch (error) {
      if (!original.settled) original.giveUp(error);
      return;
    }
    if (!original.settled) this.#start(original, subchannel, cmd, payload, options, retry, number, deadline);
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
