/**
 * What a typed client's method returns: a promise of one output (unary, clientStream)
 * and a stream of outputs (serverStream, bidi), in one object. The router's type shows
 * only the face that fits the procedure; at run time the reply decides (a client that
 * knows only the router's type cannot tell the shapes apart before the reply comes).
 */
import type { PendingCall } from "../engine/call.ts";
import { RpcError } from "../common/errors.ts";
import type { Metadata } from "../wire/extensions.ts";
import type { Response } from "../engine/response.ts";
import { readableFrom } from "../common/streams.ts";
import { type Caller, type ClientCall, InputFailed, type ProcedureCallOptions, type Target } from "./caller.ts";
import { StreamedReply } from "./streamed_reply.ts";
import { LAST_EVENT_ID } from "./tracked.ts";
import { isAsyncIterable, isReadableStream } from "../common/streams.ts";
import { labelsOf } from "./wire.ts";

/** A unary or client-streaming call: a promise of the output, and the reply's metadata. */
export interface UnaryCall<T> extends Promise<T> {
  /** The metadata of the reply's first frame (empty if the call failed first). */
  readonly metadata: Promise<Readonly<Metadata>>;
  /** The metadata of the reply's last frame. */
  readonly trailers: Promise<Readonly<Metadata>>;
  /** Cancels the call: the peer's handler sees its signal abort. */
  cancel(reason?: unknown): void;
}

/** A server-streaming or bidi call: `for await` the outputs, or read `readable`. */
export interface ReplyStream<T> extends AsyncIterable<T> {
  /** The same outputs as a ReadableStream (use one or the other). */
  readonly readable: ReadableStream<T>;
  /** The metadata of the reply's first frame. */
  readonly metadata: Promise<Readonly<Metadata>>;
  /** The metadata of the reply's last frame: it settles once you have read the stream to its end. */
  readonly trailers: Promise<Readonly<Metadata>>;
  /** Cancels the call: the peer's handler sees its signal abort, the loop throws `cancelled`. */
  cancel(reason?: unknown): void;
}


const NOTHING: Readonly<Metadata> = Object.freeze({});

/** Resumes in a row with no item between them, before the stream's failure is the caller's. */
const MAX_RESUMES = 5;

/** A failed call, kept as a value so an ignored call's failure is not an unhandled rejection. */
class Failure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** A failure as a value; a request stream's own failure (its source, an invalid item) unwrapped. */
const toFailure = (error: unknown) =>
  new Failure(error instanceof RpcError && error.cause instanceof InputFailed ? error.cause.error : error);

/** The handle on a call made through a typed client; see UnaryCall and ReplyStream. */
export class TypedCall<T> implements UnaryCall<T>, ReplyStream<T> {
  get [Symbol.toStringTag](): string {
    return "TypedCall";
  }

  readonly #caller: Caller;
  readonly #target: Target;
  /** Settles with the one output, a StreamedReply, or a Failure: it never rejects. */
  readonly #result: Promise<unknown>;
  #pending: PendingCall | null = null;
  #response: Response | undefined = undefined;
  #cancelled: { reason: unknown } | null = null;
  #iterated = false;
  /** The reply stream being read (a resumed call's, after a resume). */
  #reply: StreamedReply | null = null;
  /** Settles when the walk over a streamed reply is over (resumes included). */
  #walked: { promise: Promise<void>; resolve: () => void } | null = null;

  #whenWalked(): Promise<void> {
    if (this.#walked === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#walked = { promise, resolve };
    }
    return this.#walked.promise;
  }
  /** What was sent, for a resumed call (tracked reply streams). */
  readonly #input: unknown;
  readonly #options: ProcedureCallOptions | undefined;

  /** A call that failed before it could start (a procedure the contract does not have). */
  static failed<T>(caller: Caller, path: string, error: unknown): TypedCall<T> {
    const target: Target = { path, labels: labelsOf(path), prefix: null, cmd: 0, codec: null, definition: null };
    return new TypedCall<T>(caller, target, undefined, undefined, new Failure(error));
  }

  constructor(
    caller: Caller,
    target: Target,
    input: unknown,
    options: ProcedureCallOptions | undefined,
    failure?: Failure,
  ) {
    this.#caller = caller;
    this.#target = target;
    this.#input = input;
    this.#options = options;
    if (failure !== undefined) {
      this.#result = Promise.resolve(failure);
    } else if (caller.middleware.length === 0) {
      // The common case, kept to one promise: a failure becomes a Failure right here.
      let pending: PendingCall;
      try {
        pending = caller.send(target, input, options);
      } catch (error) {
        this.#result = Promise.resolve(new Failure(error));
        return;
      }
      this.#pending = pending;
      this.#result = pending.response.then((response) => {
        this.#response = response;
        try {
          const value = caller.read(target, response); // a promise only for an async output schema
          return value instanceof Promise ? value.then(undefined, toFailure) : value;
        } catch (error) {
          return new Failure(error);
        }
      }, toFailure);
    } else {
      const call: ClientCall = { path: target.path, input, options: options ?? {} };
      this.#result = caller.runMiddleware(call, (current) => this.#send(current))
        .then(undefined, toFailure);
    }
  }

  /** One attempt through the middleware (which may make several): the output, or a StreamedReply. */
  #send(call: ClientCall): Promise<unknown> {
    if (this.#cancelled !== null) {
      return Promise.reject(
        new RpcError("cancelled", `call to "${this.#target.path}" was cancelled`, { cause: this.#cancelled.reason }),
      );
    }
    let pending: PendingCall;
    try {
      pending = this.#caller.send(this.#target, call.input, call.options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#pending = pending;
    return pending.response.then((response) => {
      this.#response = response;
      call.response = response;
      return this.#caller.read(this.#target, response);
    });
  }

  #unexpectedStream(): RpcError {
    return new RpcError(
      "failed_precondition",
      `"${this.#target.path}" streams its reply: walk it with for await (or read .readable), do not await it`,
    );
  }

  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#result.then((value) => {
      if (value instanceof Failure) {
        if (onRejected) return onRejected(value.error);
        throw value.error;
      }
      if (value instanceof StreamedReply) {
        if (onRejected) return onRejected(this.#unexpectedStream());
        throw this.#unexpectedStream();
      }
      return onFulfilled ? onFulfilled(value as T) : (value as A);
    });
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then(undefined).finally(onFinally);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    if (this.#iterated) throw new TypeError(`the reply of "${this.#target.path}" can be walked once`);
    this.#iterated = true;
    const value = await this.#result;
    if (value instanceof Failure) throw value.error;
    if (value instanceof StreamedReply) yield* this.#resuming(value) as AsyncIterable<T>;
    else yield value as T;
  }

  /**
   * The reply's items; when the handler tracked them and the connection is lost, the call
   * is made again with the last id received (`last-event-id`), and its items follow on.
   * Over a channel the new call waits for the reconnect. A request stream cannot be
   * replayed, so only a call whose input is a value is resumed.
   */
  async *#resuming(reply: StreamedReply): AsyncGenerator<unknown> {
    try {
      yield* this.#resumingFrom(reply);
    } finally {
      void this.#whenWalked();
      this.#walked!.resolve();
    }
  }

  async *#resumingFrom(reply: StreamedReply): AsyncGenerator<unknown> {
    let current = reply;
    let failures = 0;
    for (;;) {
      let error: unknown;
      try {
        return yield* current;
      } catch (caught) {
        error = caught;
      }
      if (current.delivered > 0) failures = 0;
      const tracked = current.tracked;
      const lastEventId = current.lastEventId;
      for (;;) {
        if (!tracked || !this.#resumable(error, ++failures)) throw error;
        try {
          current = await this.#resume(lastEventId);
          break;
        } catch (caught) {
          error = caught;
        }
      }
    }
  }

  /**
   * The call made again, after the item with `lastEventId` (from the start without one),
   * through the client middleware as the first was (its metadata, its auth).
   */
  async #resume(lastEventId: string | undefined): Promise<StreamedReply> {
    const options = { ...this.#options };
    options.metadata = { ...options.metadata };
    if (lastEventId !== undefined) options.metadata[LAST_EVENT_ID] = lastEventId;
    const call: ClientCall = { path: this.#target.path, input: this.#input, options };
    const next = await this.#caller.runMiddleware(call, (current) => this.#send(current));
    if (!(next instanceof StreamedReply)) throw new RpcError("internal", `"${this.#target.path}" answered a resumed call without a stream`);
    next.lastEventId = lastEventId;
    this.#reply = next;
    return next;
  }

  #resumable(error: unknown, failures: number): boolean {
    return this.#cancelled === null && failures <= MAX_RESUMES &&
      error instanceof RpcError && error.code === "unavailable" &&
      !isAsyncIterable(this.#input) && !isReadableStream(this.#input);
  }

  get readable(): ReadableStream<T> {
    return readableFrom(() => this[Symbol.asyncIterator](), (reason) => this.cancel(reason));
  }

  get metadata(): Promise<Readonly<Metadata>> {
    return this.#result.then(() => this.#response?.metadata ?? NOTHING);
  }

  get trailers(): Promise<Readonly<Metadata>> {
    return this.#result.then(async (value) => {
      if (!(value instanceof StreamedReply)) return this.#response?.trailers ?? NOTHING;
      // The last reply's, once the loop is over: a resumed stream's first reply ends at the
      // disconnect, not at the end.
      await this.#whenWalked();
      return (this.#reply ?? value).response.trailers;
    });
  }

  cancel(reason?: unknown): void {
    this.#cancelled ??= { reason };
    this.#pending?.cancel(reason);
  }
}
