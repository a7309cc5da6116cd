import { errorForReset, RpcError } from "../common/errors.ts";
import type { Extensions, Metadata } from "../wire/extensions.ts";
import { Flags, STREAM_BITS } from "../wire/flags.ts";
import type { SendCredit } from "./flow_control.ts";
import type { RequestId } from "../wire/frame.ts";
import type { MessageStream } from "./message_stream.ts";
import { Response } from "./response.ts";
import { readableFrom } from "../common/streams.ts";
import { startTimer, stopTimer, type Timer } from "../common/timers.ts";

/** Per-call options. */
export interface CallOptions {
  /** Aborting it cancels the call: the peer gets a reset, the call rejects with `cancelled`. */
  signal?: AbortSignal;
  /** Milliseconds until the call fails with `deadline_exceeded` (and the peer gets a reset). */
  timeout?: number;
  /** Let the peer handle this request concurrently with others (the NonBlock flag). */
  nonBlocking?: boolean;
  /** Sent with the request to a weft peer (a plain qrpc peer has nowhere to put it). */
  metadata?: Metadata;
}

/** What a call needs from its connection. Kept narrow so calls never reach into the engine. */
export interface CallHost {
  /** Writes a frame; `ext` goes in its extension block when the peer speaks weft. */
  write(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext?: Extensions): void;
  /** Waits while the transport is backpressured; throws if the connection closed. */
  writable(): Promise<void>;
  reset(id: RequestId, code: number): void;
  /** The call is over on both halves: drop it from the connection's table. */
  forget(id: RequestId): void;
  checkPayload(payload: Uint8Array): void;
  /** A receive stream for a reply; flow-controlled when the peer marked it so. */
  newStream(id: RequestId, flowControlled: boolean): MessageStream;
  /** Credit for a request stream about to open, when the connection does flow control. */
  sendCredit(): SendCredit | null;
  /** The flags every request from this side carries (NonBlock for a server calling a client). */
  baseFlags(): number;
}

/**
 * A layer above the engine that may send a failed call again elsewhere, and keeps count of
 * the calls it made (a channel: src/client/): set as a call's `relay`, with whatever the
 * layer needs to know of that call.
 */
export interface CallRelay {
  /**
   * The peer reset the call, or its connection closed, before any reply: return true to
   * take the call over. It then stays pending, and the layer finishes it with `carry`.
   */
  rescue(call: PendingCall, error: RpcError): boolean;
  /** The call ended: its reply complete (`error` undefined), failed, or taken over. */
  ended(call: PendingCall, error: unknown): void;
}

const RESET_CANCELLED = 1;
const HANDED_OFF = 0;
const RESET_DEADLINE_EXCEEDED = 4;

// One executor shared by every call's promise: it parks the resolvers here for the
// constructor to pick up, sparing each call a closure and its context (per-call garbage).
let parkedResolve: (response: Response) => void = () => {};
let parkedReject: (error: unknown) => void = () => {};
function parkResolvers(resolve: (response: Response) => void, reject: (error: unknown) => void): void {
  parkedResolve = resolve;
  parkedReject = reject;
}

/**
 * The reply half of a call, and all a plain request needs: kept lean, since every unary
 * call allocates one. `Call` adds the request-stream half.
 */
export class PendingCall implements AsyncIterable<Uint8Array> {
  readonly id: RequestId;
  readonly cmd: number;
  /** Settles with the first reply frame; rejects if the call fails before that. */
  readonly response: Promise<Response>;
  protected readonly host: CallHost;
  #resolve: (response: Response) => void;
  #reject: (error: unknown) => void;
  #replyStream: MessageStream | null = null;
  #response: Response | null = null;
  /** The reply half is complete (or failed): nothing more will arrive. */
  protected replyDone = false;
  #cleanup: (() => void) | null = null;
  /** Told once when the reply is complete or the call failed (the engine's bookkeeping, for Hooks). */
  onEnd: ((error: unknown) => void) | undefined = undefined;
  // The next two are declared, not initialised: a call no relay touches (every call on a
  // bare connection) never has them, and pays nothing for them (measured: two initialised
  // fields cost Node 0.1-0.2 us per call).
  /** The layer above that relays this call, if any (see CallRelay). */
  declare relay: CallRelay | undefined;
  /**
   * Once a relay took the call over: HANDED_OFF (its id is done on this connection), then the
   * call that carries it on (see `carry`). Internal to the engine and its relays.
   */
  declare protected relayed: PendingCall | typeof HANDED_OFF | undefined;

  constructor(host: CallHost, id: RequestId, cmd: number, options: CallOptions | undefined) {
    this.host = host;
    this.id = id;
    this.cmd = cmd;
    this.response = new Promise<Response>(parkResolvers);
    this.#resolve = parkedResolve;
    this.#reject = parkedReject;
    if (options !== undefined && (options.signal !== undefined || options.timeout !== undefined)) {
      this.#watch(options);
    }
  }

  /** Walks the reply's payloads. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    yield* await this.response;
  }

  /** The reply's payloads as a ReadableStream. */
  get readable(): ReadableStream<Uint8Array> {
    return readableFrom(() => this[Symbol.asyncIterator](), (reason) => this.cancel(reason));
  }

  /** True once the reply is complete or the call failed. */
  get settled(): boolean {
    return this.replyDone;
  }

  /** True when a stream runs either way: the reply streams (or, for a Call, the request). */
  get streaming(): boolean {
    return this.#replyStream !== null;
  }

  /** Cancels the call: the peer gets a reset (reason 1), the call rejects with `cancelled`. */
  cancel(reason?: unknown): void {
    this.#abandon(
      RESET_CANCELLED,
      new RpcError("cancelled", `call to cmd ${this.cmd} was cancelled`, { cause: reason }),
    );
  }

  /** A reply frame arrived (`ext`: its extension block, from a weft peer). */
  onFrame(flags: number, cmd: number, payload: Uint8Array, ext?: Extensions): void {
    const stream = this.#replyStream;
    if (stream !== null) {
      const end = (flags & Flags.StreamEnd) !== 0;
      if (payload.length > 0 || !end) stream.push(payload);
      if (end) {
        if (ext?.trailers !== undefined) this.#response!.trailers = ext.trailers;
        stream.end();
        this.#replyComplete();
      }
      return;
    }
    if (this.replyDone) return;
    if ((flags & STREAM_BITS) === 0) {
      this.#resolve(new Response(cmd, flags, payload, null, ext?.metadata, ext?.trailers));
      this.#replyComplete();
      return;
    }
    const opened = this.host.newStream(this.id, ext?.flowControlled === true);
    opened.onCancel = (reason) => this.cancel(reason);
    if (payload.length > 0 || (flags & Flags.StreamEnd) === 0) opened.push(payload);
    this.#replyStream = opened;
    this.#response = new Response(cmd, flags, payload, opened, ext?.metadata, ext?.trailers);
    this.#resolve(this.#response);
    if ((flags & Flags.StreamEnd) !== 0) {
      opened.end();
      this.#replyComplete();
    }
  }

  /** The peer granted flow-control credit for the request stream. */
  grant(_bytes: number): void {}

  /** The peer reset the call. */
  onReset(reason: number, body?: Uint8Array): void {
    const error = errorForReset(reason, `call to cmd ${this.cmd}`, body);
    this.closeSend(error);
    if (!this.#rescued(error)) this.fail(error);
    this.host.forget(this.id);
  }

  /** The connection closed under the call (or its reply could not be read). */
  onClose(error: RpcError): void {
    this.closeSend(error);
    if (!this.#rescued(error)) this.fail(error);
  }

  /**
   * Runs this call on as `attempt`, a call made elsewhere by a relay: its reply or failure
   * becomes this call's, and `cancel()` reaches it.
   */
  carry(attempt: PendingCall): void {
    this.relayed = attempt;
    attempt.response.then(
      (response) => this.relayed === attempt && this.adopt(response),
      (error) => this.relayed === attempt && this.fail(error),
    );
  }

  /** Fails the call with `error`: for a relay that cannot carry it on (no endpoint, no more attempts). */
  giveUp(error: unknown): void {
    this.closeSend(error);
    this.fail(error);
  }

  /** Whether the relay took the failed call over (before any reply came). */
  #rescued(error: RpcError): boolean {
    const relay = this.relay;
    if (relay === undefined || this.replyDone || this.#replyStream !== null) return false;
    this.relayed = HANDED_OFF; // before rescue, which may hand it on at once
    if (!relay.rescue(this, error)) {
      this.relayed = undefined;
      return false;
    }
    if (this.onEnd !== undefined) this.#ended(error); // for hooks, this attempt is over
    relay.ended(this, error);
    return true;
  }

  /** True while the request stream is open (a plain request sent it all at once). */
  protected get sending(): boolean {
    return false;
  }

  /** Closes the request half: later sends fail with `error`. */
  protected closeSend(_error: unknown): void {}

  protected fail(error: unknown): void {
    if (this.replyDone) return;
    this.replyDone = true;
    if (this.onEnd !== undefined) this.#ended(error);
    if (this.relay !== undefined && this.relayed === undefined) this.relay.ended(this, error);
    this.#unwatch();
    if (this.#replyStream !== null) this.#replyStream.fail(error);
    else this.#reject(error);
  }

  /**
   * Settles the call with a reply another call received: for a layer above the engine that
   * relays a call (a client that waits for a connection, or retries elsewhere). The reply
   * half is then the other call's; this one no longer watches its signal or timeout.
   */
  protected adopt(response: Response): void {
    if (this.replyDone) return;
    this.replyDone = true;
    this.#unwatch();
    this.#resolve(response);
  }

  /** Forgets the call once neither half has anything left to do. */
  protected maybeForget(): void {
    if (this.replyDone && !this.sending) this.host.forget(this.id);
  }

  #abandon(reason: number, error: RpcError): void {
    const relayed = this.relayed;
    if (relayed !== undefined && relayed !== HANDED_OFF) relayed.cancel(error); // also once its reply streams: the stream is the carrier's
    if (this.replyDone && !this.sending) return;
    if (relayed === undefined) this.host.reset(this.id, reason);
    this.closeSend(error);
    this.fail(error);
    this.host.forget(this.id);
  }

  #replyComplete(): void {
    this.replyDone = true;
    if (this.onEnd !== undefined) this.#ended(undefined);
    if (this.relay !== undefined) this.relay.ended(this, undefined);
    this.#unwatch();
    this.maybeForget();
  }

  #ended(error: unknown): void {
    const onEnd = this.onEnd!;
    this.onEnd = undefined;
    onEnd(error);
  }

  #watch(options: CallOptions): void {
    const { signal, timeout } = options;
    let timer: Timer | undefined;
    const onAbort = () => this.cancel(signal?.reason);
    if (signal !== undefined) signal.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      timer = startTimer(() => {
        this.#abandon(
          RESET_DEADLINE_EXCEEDED,
          new RpcError("deadline_exceeded", `call to cmd ${this.cmd} timed out after ${timeout} ms`),
        );
      }, timeout);
    }
    this.#cleanup = () => {
      signal?.removeEventListener("abort", onAbort);
      stopTimer(timer);
    };
  }

  #unwatch(): void {
    if (this.#cleanup !== null) {
      this.#cleanup();
      this.#cleanup = null;
    }
  }
}

const EMPTY = new Uint8Array(0);
const SEND_IDLE = 0;
const SEND_OPEN = 1;
const SEND_CLOSED = 2;

/**
 * A streaming call, from the caller's side: a request stream opened by the first `send`
 * (or `end`), and the reply (`response`, or `for await` over the call).
 */
export class Call extends PendingCall {
  #sendState = SEND_IDLE;
  /** end() was called: its frame may still wait for flow-control credit. */
  #ending = false;
  #sendError: unknown = undefined;
  #flags: number;
  #writable: WritableStream<Uint8Array> | null = null;
  #credit: SendCredit | null = null;
  #metadata: Metadata | undefined;
  /** performance.now() when the caller's timeout runs out, if it set one. */
  #deadlineAt: number | undefined;

  override get streaming(): boolean {
    return true;
  }

  constructor(host: CallHost, id: RequestId, cmd: number, options: CallOptions | undefined) {
    super(host, id, cmd, options);
    this.#flags = host.baseFlags() | (options?.nonBlocking ? Flags.NonBlock : 0);
    this.#metadata = options?.metadata;
    if (options?.timeout !== undefined) this.#deadlineAt = performance.now() + options.timeout;
  }

  /**
   * Sends one payload on the request stream, opening it on first use. Waits while the
   * peer has granted no flow-control credit, and while the transport is backpressured.
   */
  async send(payload: Uint8Array): Promise<void> {
    this.#checkSendable(payload);
    const opening = this.#sendState === SEND_IDLE;
    this.#sendState = SEND_OPEN;
    await this.#sendFrame(opening ? this.#flags | Flags.Stream : Flags.Stream, payload, opening, false);
  }

  /** Ends the request stream, optionally with a last payload. */
  async end(payload: Uint8Array = EMPTY): Promise<void> {
    this.#checkSendable(payload);
    const opening = this.#sendState === SEND_IDLE;
    this.#sendState = SEND_OPEN;
    this.#ending = true;
    await this.#sendFrame(opening ? this.#flags | STREAM_BITS : STREAM_BITS, payload, opening, true);
  }

  override grant(bytes: number): void {
    this.#credit?.grant(bytes);
  }

  async #sendFrame(flags: number, payload: Uint8Array, opening: boolean, last: boolean): Promise<void> {
    let ext: Extensions | undefined;
    if (opening) {
      this.#credit = this.host.sendCredit();
      ext = {
        metadata: this.#metadata,
        timeout: this.#deadlineAt === undefined ? undefined : this.#deadlineAt - performance.now(),
        flowControlled: this.#credit !== null,
      };
    }
    const credit = this.#credit;
    if (credit !== null && !credit.available) {
      await credit.wait(); // frames queue here in order: the waiters wake first-in, first-out
      if (this.#sendError !== undefined) throw this.#sendError;
    }
    credit?.consume(payload.length);
    this.host.write(this.id, flags, this.cmd, payload, ext);
    if (last) {
      this.#sendState = SEND_CLOSED;
      this.maybeForget();
    }
    await this.host.writable();
  }

  /** The request stream as a WritableStream: close() ends it, abort() cancels the call. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.send(chunk),
      close: () => this.end(),
      abort: (reason) => this.cancel(reason),
    });
    return this.#writable;
  }

  protected override get sending(): boolean {
    return this.#sendState === SEND_OPEN;
  }

  protected override closeSend(error: unknown): void {
    this.#sendState = SEND_CLOSED;
    this.#sendError ??= error;
    this.#credit?.release();
  }

  #checkSendable(payload: Uint8Array): void {
    if (this.#sendState === SEND_CLOSED || this.#ending) {
      throw this.#sendError ?? new RpcError("failed_precondition", `request stream of cmd ${this.cmd} already ended`);
    }
    this.host.checkPayload(payload);
  }
}
