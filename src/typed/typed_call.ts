/**
 * What a typed client's method returns: a promise of one output (unary, clientStream)
 * and a stream of outputs (serverStream, bidi), in one object. The router's type shows
 * only the face that fits the procedure; at run time the reply decides (a client that
 * knows only the router's type cannot tell the shapes apart before the reply comes).
 */
import type { Metadata } from "../extensions.ts";
import { RpcError } from "../errors.ts";
import type { Response } from "../response.ts";
import { readableFrom } from "../streams.ts";

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

const ignore = () => {};

/** A reply stream's outputs, decoded and checked as they are read. */
export class StreamedReply {
  readonly response: Response;
  /** Settles when the stream has been read to its end (or failed): trailers are in then. */
  readonly ended: Promise<void>;
  readonly #decode: (bytes: Uint8Array) => unknown;
  #ended: () => void = ignore;

  constructor(response: Response, decode: (bytes: Uint8Array) => unknown) {
    this.response = response;
    this.#decode = decode;
    this.ended = new Promise((resolve) => (this.#ended = resolve));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    try {
      for await (const bytes of this.response) {
        if (bytes.length === 0) continue; // qrpc ends a stream with an empty frame
        yield await this.#decode(bytes);
      }
    } finally {
      this.#ended();
    }
  }
}

const NOTHING: Readonly<Metadata> = Object.freeze({});

/** The handle on a call made through a typed client; see UnaryCall and ReplyStream. */
export class TypedCall<T> implements UnaryCall<T>, ReplyStream<T> {
  readonly [Symbol.toStringTag] = "TypedCall";
  readonly #result: Promise<unknown>;
  readonly #path: string;
  readonly #cancel: (reason?: unknown) => void;
  #response: () => Response | undefined;
  #iterated = false;

  /**
   * `result` settles with the one output, or a StreamedReply; `response` gives the core
   * Response once there is one; `cancel` resets the call.
   */
  constructor(
    path: string,
    result: Promise<unknown>,
    response: () => Response | undefined,
    cancel: (reason?: unknown) => void,
  ) {
    this.#path = path;
    this.#result = result;
    this.#response = response;
    this.#cancel = cancel;
    result.then(undefined, ignore); // an ignored call's failure is not an unhandled rejection
  }

  #one(): Promise<T> {
    return this.#result.then((value) => {
      if (value instanceof StreamedReply) {
        throw new RpcError(
          "failed_precondition",
          `"${this.#path}" streams its reply: walk it with for await (or read .readable), do not await it`,
        );
      }
      return value as T;
    });
  }

  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#one().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#one().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#one().finally(onFinally);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    if (this.#iterated) throw new TypeError(`the reply of "${this.#path}" can be walked once`);
    this.#iterated = true;
    const value = await this.#result;
    if (value instanceof StreamedReply) yield* value as AsyncIterable<T>;
    else yield value as T;
  }

  get readable(): ReadableStream<T> {
    return readableFrom(() => this[Symbol.asyncIterator](), (reason) => this.cancel(reason));
  }

  get metadata(): Promise<Readonly<Metadata>> {
    return this.#result.then(() => this.#response()?.metadata ?? NOTHING, () => this.#response()?.metadata ?? NOTHING);
  }

  get trailers(): Promise<Readonly<Metadata>> {
    return this.#result.then(async (value) => {
      if (value instanceof StreamedReply) await value.ended;
      return this.#response()?.trailers ?? NOTHING;
    }, () => this.#response()?.trailers ?? NOTHING);
  }

  cancel(reason?: unknown): void {
    this.#cancel(reason);
  }
}
