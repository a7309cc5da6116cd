/**
 * What a typed call needs from its client: how a procedure is reached (by name or on its
 * pinned cmd), sending its input (a value or a request stream), reading its reply, and
 * running the client middleware around it. `createClient` (client.ts) makes one Caller per
 * client; each call (typed_call.ts) goes through it.
 */
import type { Codec } from "../codec/types.ts";
import { json } from "../codec/json.ts";
import { LEND_MIN, payloadPool } from "../common/payload_pool.ts";
import type { Connection } from "../engine/connection.ts";
import type { RetryPolicy } from "../client/retry.ts";
import { RpcError } from "../common/errors.ts";
import type { Metadata } from "../wire/extensions.ts";
import type { PendingCall } from "../engine/call.ts";
import type { Response } from "../engine/response.ts";
import { isAsyncIterable, isReadableStream, toAsyncIterator } from "../common/streams.ts";
import { type Listener, subscribe, type Subscription } from "./events.ts";
import type { AnyEvent, AnyProcedure, Source } from "./procedure.ts";
import { isEvent, isProcedure } from "./procedure.ts";
import { flatten, type Router } from "./router.ts";
import { StreamedReply } from "./streamed_reply.ts";
import { validate } from "./validate.ts";
import { codecOf, decodeChecked, encodeWith, type Labels, labelsOf, namePrefix, PROCEDURE_CMD } from "./wire.ts";

/** Options of one typed call. */
export interface ProcedureCallOptions {
  /** Aborting it cancels the call. */
  signal?: AbortSignal;
  /** Milliseconds until the call fails with `deadline_exceeded`; the handler sees the deadline. */
  timeout?: number;
  /** Sent with the request; the handler reads it as `ctx.metadata`. */
  metadata?: Metadata;
  /** On a channel: this call's retry policy (instead of the channel's); false: none. */
  retry?: RetryPolicy | false;
  /** On a channel: the call may run twice without harm, so it is retried even after it may have run. */
  idempotent?: boolean;
  /** On a channel balancing by consistent hash: calls with the same key go to the same endpoint. */
  hashKey?: string;
}

/** One call as client middleware sees it. */
export interface ClientCall {
  /** The procedure's dotted name. */
  readonly path: string;
  /** The input, or the source of a request stream. */
  input: unknown;
  /** This call's options: middleware may add metadata, a timeout, a signal. */
  options: ProcedureCallOptions;
  /** The core reply, once `next` has resolved (its metadata and, after a stream, trailers). */
  response?: Response;
}

/**
 * Client middleware, outermost first. `next(call)` sends the call and resolves with its
 * output (or, for a streamed reply, once the reply starts); call it again to retry a call
 * whose input is a value, or throw to refuse the call before it leaves.
 */
export type ClientMiddleware = (call: ClientCall, next: (call: ClientCall) => Promise<unknown>) => Promise<unknown>;

export interface ClientOptions<R extends Router = Router> {
  /** Client middleware, outermost first. */
  middleware?: readonly ClientMiddleware[];
  /**
   * The router's contract (its procedures without handlers are enough). With it the client
   * also validates inputs before they leave and outputs as they arrive, and calls
   * procedures pinned to a cmd there (so it can call a plain qrpc peer).
   */
  contract?: R;
}

const EMPTY = new Uint8Array(0);

/** How one procedure is reached: its name prefix, or its pinned cmd and codec. */
export interface Target {
  readonly path: string;
  /** How errors name this procedure's values. */
  readonly labels: Labels;
  readonly prefix: Uint8Array | null;
  readonly cmd: number;
  readonly codec: Codec | null;
  readonly definition: AnyProcedure | null;
}

/**
 * A request stream item failed here (the contract refused it, or it could not be encoded):
 * the call fails with that error itself, not a bare `cancelled`.
 */
export class InputFailed {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** Every call's options: typed calls always let the peer run them concurrently. */
const NON_BLOCKING = Object.freeze({ nonBlocking: true });

/** What a TypedCall needs from its client: sending, reading, middleware. */
export class Caller {
  readonly #connection: Connection;
  readonly middleware: readonly ClientMiddleware[];
  readonly #contract: ReadonlyMap<string, { definition: AnyProcedure | AnyEvent }> | null;

  constructor(connection: Connection, options: ClientOptions<Router>) {
    this.#connection = connection;
    this.middleware = options.middleware ?? [];
    this.#contract = options.contract === undefined ? null : flatten(options.contract);
  }

  subscribe(path: string, listener?: Listener<unknown>): (() => void) | Subscription<unknown> {
    const definition = this.#contract?.get(path)?.definition;
    if (definition !== undefined && !isEvent(definition)) throw new TypeError(`"${path}" is a procedure, not an event`);
    return subscribe(this.#connection, path, definition ?? null, listener);
  }

  /** Runs the client middleware around `send`. */
  runMiddleware(call: ClientCall, send: (call: ClientCall) => Promise<unknown>): Promise<unknown> {
    const step = (index: number, current: ClientCall): Promise<unknown> => {
      if (index === this.middleware.length) return send(current);
      try {
        return Promise.resolve(this.middleware[index](current, (next) => step(index + 1, next)));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    return step(0, call);
  }

  /** How `path` is reached (a pinned cmd when the contract says so). */
  target(path: string): Target {
    const found = this.#contract?.get(path)?.definition;
    if (this.#contract !== null && !isProcedure(found)) {
      throw new RpcError("unimplemented", `the contract has no procedure named "${path}"`);
    }
    const definition = (found ?? null) as AnyProcedure | null;
    const common = { path, labels: labelsOf(path), definition };
    return definition?.cmd !== undefined
      ? { ...common, prefix: null, cmd: definition.cmd, codec: definition.codec ?? json }
      : { ...common, prefix: namePrefix(path), cmd: PROCEDURE_CMD, codec: null };
  }

  /** Sends the request: one frame for a value, a request stream for a source. */
  send(target: Target, input: unknown, callOptions: ProcedureCallOptions | undefined): PendingCall {
    const codec = target.codec ?? codecOf(this.#connection);
    const options = callOptions === undefined ? NON_BLOCKING : { ...callOptions, nonBlocking: true };
    const definition = target.definition;
    if (isAsyncIterable(input) || isReadableStream(input)) {
      const stream = this.#connection.call(target.cmd, options);
      this.#pump(stream, target, codec, input as Source<unknown>);
      return stream;
    }
    const what = target.labels.input;
    // An async input schema is left to the server: a call's first frame leaves synchronously.
    const checked = definition === null || definition.input.async === true
      ? input
      : validate(definition.input, input, what, "invalid_argument");
    const payload = encodeWith(codec, checked, what, "invalid_argument", target.prefix ?? undefined);
    return this.#connection.open(target.cmd, payload, options);
  }

  /** Feeds a request stream from `source`; a failing source cancels the call. */
  async #pump(
    stream: ReturnType<Connection["call"]>,
    target: Target,
    codec: Codec,
    source: Source<unknown>,
  ): Promise<void> {
    const what = target.labels.inputItem;
    const schema = target.definition?.input ?? null;
    const iterator = toAsyncIterator(source);
    let replied = false;
    stream.response.then(() => (replied = true), () => (replied = true));
    try {
      if (target.prefix !== null) await stream.send(target.prefix);
      for (;;) {
        const step = await iterator.next();
        if (step.done) break;
        if (step.value === undefined) throw new TypeError(`${what} is undefined: stream items must be values`);
        const item = schema === null ? step.value : await validate(schema, step.value, what, "invalid_argument");
        await stream.send(encodeWith(codec, item, what, "invalid_argument"));
      }
      await stream.end(EMPTY);
    } catch (error) {
      iterator.return?.()?.catch(() => {});
      // Once the reply is in (or the call failed), a refused send is expected, not news.
      // An item the contract refuses fails the call with that error; a source that throws
      // cancels it (the error is the cause).
      if (!replied) stream.cancel(error instanceof RpcError ? new InputFailed(error) : error);
    }
  }

  /**
   * The reply: one output, or a StreamedReply that decodes as it is read. A large reply
   * decoded from JSON keeps no view of its payload, so a lent one is released at once.
   */
  read(target: Target, response: Response): unknown {
    const codec = target.codec ?? codecOf(this.#connection);
    const schema = target.definition?.output ?? null;
    if (response.stream === null) {
      const output = decodeChecked(codec, response.payload, schema, target.labels.output, "internal");
      const payload = response.payload;
      if (codec === json && payload.length >= LEND_MIN && payloadPool.isLent(payload)) response.release();
      return output;
    }
    const what = target.labels.outputItem;
    return new StreamedReply(response, (bytes) => decodeChecked(codec, bytes, schema, what, "internal"));
  }
}
