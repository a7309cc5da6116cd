/**
 * The call a channel hands back when it cannot hand back the engine's own: it stands for
 * the call while the channel waits for a connection, and across retries. To its caller it
 * is an ordinary PendingCall (or Call): its `response` settles with the reply of whichever
 * attempt succeeded, and `cancel()`, its signal and its timeout reach the attempt in flight.
 */
import { Call, type CallHost, type CallOptions, PendingCall } from "../engine/call.ts";
import type { Response } from "../engine/response.ts";
import type { RequestId } from "../wire/frame.ts";

/** The attempts' side of a relay (what the channel's loop drives). */
export interface Relay {
  /** Aborts when the call is cancelled or times out: stop waiting, stop retrying. */
  readonly signal: AbortSignal;
  /** performance.now() at which the caller stops waiting, or Infinity. */
  readonly deadline: number;
  /** This attempt is the one in flight. */
  attach(attempt: PendingCall): void;
  /** The attempt's reply is the call's. */
  deliver(response: Response): void;
  /** The call fails with `error`. */
  failWith(error: unknown): void;
}

const NO_STREAM_HERE = "a relayed call writes through its attempt";

/** A host that turns the engine's reset of a relay (cancel, timeout) into stopping its attempt. */
function relayHost(onReset: () => void): CallHost {
  return {
    write: () => {
      throw new Error(NO_STREAM_HERE);
    },
    writable: () => Promise.resolve(),
    reset: onReset,
    forget: () => {},
    checkPayload: () => {},
    newStream: () => {
      throw new Error(NO_STREAM_HERE);
    },
    sendCredit: () => null,
    baseFlags: 0,
  };
}

/** The options the relay itself watches: the caller's signal and timeout. */
function watched(options: CallOptions | undefined): CallOptions | undefined {
  if (options === undefined || (options.signal === undefined && options.timeout === undefined)) return undefined;
  return { signal: options.signal, timeout: options.timeout };
}

/** A unary call or a call with a streamed reply, relayed. */
export class RelayedCall extends PendingCall implements Relay {
  readonly #abort: AbortController;
  readonly deadline: number;
  #attempt: PendingCall | null = null;

  constructor(id: RequestId, cmd: number, options: CallOptions | undefined) {
    const abort = new AbortController();
    super(relayHost(() => abort.abort()), id, cmd, watched(options));
    this.#abort = abort;
    abort.signal.addEventListener("abort", () => this.#attempt?.cancel(), { once: true });
    this.deadline = options?.timeout === undefined ? Infinity : performance.now() + options.timeout;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  attach(attempt: PendingCall): void {
    this.#attempt = attempt;
  }

  deliver(response: Response): void {
    this.adopt(response);
  }

  failWith(error: unknown): void {
    this.#abort.abort();
    this.fail(error);
  }

  /** Also reaches the attempt once its reply streams (the engine's cancel stops at the reply). */
  override cancel(reason?: unknown): void {
    this.#attempt?.cancel(reason);
    super.cancel(reason);
  }
}

/** A call with a request stream, relayed: sends wait for the attempt, then go to it. */
export class RelayedStream extends Call implements Relay {
  readonly #abort: AbortController;
  readonly deadline: number;
  #attempt: Call | null = null;
  readonly #attached: Promise<Call>;
  #resolveAttached!: (call: Call) => void;
  #rejectAttached!: (error: unknown) => void;

  constructor(id: RequestId, cmd: number, options: CallOptions | undefined) {
    const abort = new AbortController();
    super(relayHost(() => abort.abort()), id, cmd, watched(options));
    this.#abort = abort;
    abort.signal.addEventListener("abort", () => this.#attempt?.cancel(), { once: true });
    this.deadline = options?.timeout === undefined ? Infinity : performance.now() + options.timeout;
    this.#attached = new Promise<Call>((resolve, reject) => {
      this.#resolveAttached = resolve;
      this.#rejectAttached = reject;
    });
    this.#attached.catch(() => {}); // a call nobody sends on fails through `response` alone
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  attach(attempt: PendingCall): void {
    this.#attempt = attempt as Call;
    this.#resolveAttached(this.#attempt);
  }

  deliver(response: Response): void {
    this.adopt(response);
  }

  failWith(error: unknown): void {
    this.#abort.abort();
    this.#rejectAttached(error);
    this.fail(error);
  }

  override async send(payload: Uint8Array): Promise<void> {
    return (await this.#attached).send(payload);
  }

  override async end(payload?: Uint8Array): Promise<void> {
    return (await this.#attached).end(payload);
  }

  override cancel(reason?: unknown): void {
    this.#attempt?.cancel(reason);
    super.cancel(reason);
  }
}
