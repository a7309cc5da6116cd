/**
 * The call a channel hands back when no connection is ready to make the real one: it stands
 * for the call while the channel waits, then the attempt made on a connection carries it
 * (`PendingCall.carry`): its reply or failure becomes this call's, and `cancel()`, the
 * caller's signal and timeout reach it. When a connection is ready, the channel hands back
 * the engine's call itself and none of this is made.
 */
import { Call, type CallHost, type CallOptions, PendingCall } from "../engine/call.ts";
import type { RequestId } from "../wire/frame.ts";

const NOT_HERE = () => {
  throw new Error("a waiting call writes through the attempt that carries it");
};

/** Every waiting call's host: it never writes (its attempt does), so nothing here is used. */
const WAITING_HOST: CallHost = {
  write: NOT_HERE,
  writable: () => Promise.resolve(),
  reset: () => {},
  forget: () => {},
  checkPayload: () => {},
  newStream: NOT_HERE,
  sendCredit: () => null,
  baseFlags: () => 0,
};

/** What the channel needs of a waiting call besides a PendingCall's. */
export interface Waiting {
  /** Aborts once the call has settled (cancelled, timed out, failed): for waits to stop. */
  readonly signal: AbortSignal;
}

/** A call with one request frame, waiting for a connection. */
export class WaitingCall extends PendingCall implements Waiting {
  #abort: AbortController | null = null;

  constructor(id: RequestId, cmd: number, options: CallOptions | undefined) {
    super(WAITING_HOST, id, cmd, options);
  }

  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    if (this.settled) this.#abort.abort();
    return this.#abort.signal;
  }

  protected override fail(error: unknown): void {
    super.fail(error);
    this.#abort?.abort();
  }
}

/** A call with a request stream, waiting for a connection: its sends wait too, then go to the attempt. */
export class WaitingStream extends Call implements Waiting {
  #abort: AbortController | null = null;
  #attempt: Call | null = null;
  readonly #attached: Promise<Call>;
  #resolveAttached!: (call: Call) => void;
  #rejectAttached!: (error: unknown) => void;

  constructor(id: RequestId, cmd: number, options: CallOptions | undefined) {
    super(WAITING_HOST, id, cmd, options);
    this.#attached = new Promise<Call>((resolve, reject) => {
      this.#resolveAttached = resolve;
      this.#rejectAttached = reject;
    });
    this.#attached.catch(() => {}); // a call nobody sends on fails through `response` alone
    this.response.catch(() => {}); // as the engine's: a caller that only sends need not read the reply
  }

  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    if (this.settled) this.#abort.abort();
    return this.#abort.signal;
  }

  override carry(attempt: PendingCall): void {
    this.#attempt = attempt as Call;
    super.carry(attempt);
    this.#resolveAttached(this.#attempt);
  }

  protected override fail(error: unknown): void {
    super.fail(error);
    this.#abort?.abort();
    this.#rejectAttached(error);
  }

  override async send(payload: Uint8Array): Promise<void> {
    return (await this.#attached).send(payload);
  }

  override async end(payload?: Uint8Array): Promise<void> {
    return (await this.#attached).end(payload);
  }
}
