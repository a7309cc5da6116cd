/**
 * The serving side of a connection: requests from the peer, their handlers and replies.
 *
 * A request is looked up in the mux by cmd and runs at once when it is concurrent (qrpc's
 * NonBlock, and every stream) or when nothing is ahead of it; blocking requests otherwise
 * wait in a queue and run one at a time, in arrival order. The read loop never waits for a
 * handler, so a blocking handler that calls back into its peer gets its answer (qrpc
 * deadlocks there). A handler's result becomes one reply frame or a reply stream; a throw
 * becomes a reset with the error's code.
 */
import { CallTable } from "./call_table.ts";
import { type ErrorCode, errorForReset, RpcError } from "../common/errors.ts";
import { isAsyncIterable, isReadableStream } from "../common/streams.ts";
import { LEND_MIN, payloadPool } from "../common/payload_pool.ts";
import { startTimer } from "../common/timers.ts";
import type { Extensions } from "../wire/extensions.ts";
import { Flags, STREAM_BITS } from "../wire/flags.ts";
import { MAX_CMD, type RequestId } from "../wire/frame.ts";
import type { Backpressure } from "./backpressure.ts";
import type { Connection } from "./api.ts";
import { ServedRequest } from "./served_request.ts";
import { CLOSED, type Link, OPEN } from "./link.ts";
import type { MessageStream } from "./message_stream.ts";
import { guarded, type Hooks } from "./hooks.ts";
import type { Handler, HandlerResult, Mux } from "./mux.ts";
import { type ReplyStreamHost, streamReply } from "./reply_stream.ts";
import type { Sender } from "./sender.ts";

const EMPTY = new Uint8Array(0);

/** How many recently reset stream ids to remember, so their late frames are dropped. */
const RESET_MEMORY = 1024;

export interface ServingOptions {
  /** Requests from the peer in flight at once; more are refused with `resource_exhausted`. */
  maxConcurrent: number;
  /** Send an unexpected handler error's message and stack to a weft caller. */
  exposeErrors: boolean;
  /** A request finished: the connection may be drained (close() waits for that). */
  onSettled: () => void;
  /** Instrumentation: told when each request starts and ends. */
  hooks: Hooks | undefined;
  /**
   * A call of a client that has not shown weft ended in a reset. A qrpc client never fails a
   * call on a reset (its caller would wait forever), so the connection closes, as a qrpc
   * server closes it on an unknown cmd: the caller fails at once.
   */
  plainCallerStranded: (error: RpcError) => void;
}

export class Serving {
  readonly #link: Link;
  readonly #sender: Sender;
  readonly #backpressure: Backpressure;
  readonly #mux: Mux;
  readonly #connection: Connection;
  readonly #options: ServingOptions;
  // Read per request: kept here rather than behind #options.
  readonly #maxConcurrent: number;
  readonly #onSettled: () => void;
  readonly #requestStarted: Hooks["requestStarted"];
  /** Requests that may still get frames, resets or a close: see #track. */
  readonly #incoming = new CallTable<ServedRequest>();
  /** Made on the first reset: most connections never need it. */
  #recentlyReset: Set<RequestId> | null = null;
  #blockingQueue: ServedRequest[] = [];
  #blockingHead = 0;
  #blockingBusy = false;
  #pumping = false;
  /** What a reply stream needs of the serving side (reply_stream.ts). */
  readonly #replies: ReplyStreamHost;

  constructor(link: Link, sender: Sender, backpressure: Backpressure, mux: Mux, connection: Connection, options: ServingOptions) {
    this.#link = link;
    this.#sender = sender;
    this.#backpressure = backpressure;
    this.#mux = mux;
    this.#connection = connection;
    this.#options = options;
    this.#maxConcurrent = options.maxConcurrent;
    this.#onSettled = options.onSettled;
    this.#requestStarted = options.hooks?.requestStarted?.bind(options.hooks);
    this.#replies = {
      sender,
      writer: link.writer,
      newSendCredit: () => backpressure.newSendCredit(),
      oversize: (payload) => this.#oversizeReply(payload),
      settle: (request) => this.#settle(request),
      failed: (request, error) => this.#handlerFailed(request, error),
    };
  }

  /** Requests being handled. */
  get size(): number {
    return this.#incoming.size;
  }

  /** Requests in flight with a stream either way (counted when asked: for instrumentation). */
  streaming(): number {
    let count = 0;
    if (this.#incoming.size > 0) for (const request of this.#incoming.values()) if (request.streaming) count++;
    return count;
  }

  /** A frame of an exchange the peer started: a new request, or more of a request stream. */
  receive(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    const request = this.#incoming.get(id);
    if (request !== undefined) return this.#continueRequest(request, flags, payload);
    if (this.#recentlyReset?.has(id)) {
      if ((flags & Flags.StreamEnd) !== 0) this.#recentlyReset.delete(id);
      return;
    }
    this.#newRequest(id, flags, cmd, payload, ext);
  }

  /** The peer reset a request it sent us: abort its handler; nothing more goes back. */
  peerReset(id: RequestId, reason: number): void {
    const request = this.#incoming.get(id);
    if (request === undefined) return;
    request.abort(errorForReset(reason, `request to cmd ${request.cmd}`));
    this.#untrack(request);
    this.#onSettled();
  }

  /** A frame of request `id` could not be read: that request fails, and the caller hears why. */
  fail(id: RequestId, flags: number, error: RpcError): void {
    const request = this.#incoming.get(id);
    if (request !== undefined) {
      const streamOpen = request.isStream && !request.stream.senderDone;
      request.abort(error);
      this.#untrack(request);
      this.refuse(id, error.code, streamOpen, error.message);
      return this.#onSettled();
    }
    const open = (flags & Flags.Stream) !== 0 && (flags & Flags.StreamEnd) === 0;
    this.refuse(id, error.code, open, error.message);
  }

  /** WINDOW_UPDATE for a reply stream of ours. */
  grant(id: RequestId, bytes: number): void {
    this.#incoming.get(id)?.sendCredit?.grant(bytes);
  }

  /** Refuses exchange `id` with a reset; late frames of an open stream are dropped. */
  refuse(id: RequestId, code: ErrorCode, streamOpen: boolean, message?: string): void {
    this.#endInReset(id, code, message, undefined);
    if (streamOpen) this.#rememberReset(id);
  }

  /** Refuses a request before any handler ran: the caller may send it again (`unprocessed`). */
  #turnAway(id: RequestId, code: ErrorCode, streamOpen: boolean, message: string, details?: unknown): void {
    this.#endInReset(id, code, message, details, true);
    if (streamOpen) this.#rememberReset(id);
  }

  /** Ends the peer's call `id` with a reset; a plain qrpc caller cannot read one (see options). */
  #endInReset(id: RequestId, code: ErrorCode, message: string | undefined, details: unknown, unprocessed = false): void {
    this.#sender.reset(id, code, message, details, unprocessed);
    const link = this.#link;
    if (!link.weftPeer && link.role === "server") {
      this.#options.plainCallerStranded(new RpcError(code, `request ${id}: ${message ?? code}`));
    }
  }

  /** The connection closed: every handler's signal aborts with `error`. */
  abortAll(error: RpcError): void {
    const requests = this.#incoming.values();
    this.#incoming.clear();
    this.#blockingQueue = [];
    this.#blockingHead = 0;
    for (const request of requests) request.abort(error);
  }

  #newRequest(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    const isStream = (flags & STREAM_BITS) !== 0;
    const ended = (flags & Flags.StreamEnd) !== 0;
    const open = isStream && !ended;
    if (this.#link.state !== OPEN) return this.#turnAway(id, "unavailable", open, "the peer is closing");
    const max = this.#maxConcurrent;
    if (this.#incoming.size >= max) return this.#turnAway(id, "resource_exhausted", open, `more than ${max} requests in flight`);
    const handler = this.#mux.lookup(cmd);
    if (handler === undefined) return this.refuse(id, "unimplemented", open, `no such cmd: ${cmd}`);

    let stream: MessageStream | null = null;
    if (isStream) {
      stream = this.#backpressure.newStream(id, ext?.flowControlled === true);
      if (payload.length > 0 || !ended) stream.push(payload);
      if (ended) stream.end();
    }
    const request = new ServedRequest(this.#connection, id, flags, cmd, payload, stream);
    if (ext !== undefined) this.#applyExtensions(request, ext);
    if (this.#requestStarted !== undefined && !this.#watched(request, open)) return;
    if (request.isConcurrent) {
      this.#run(request, handler);
    } else if (!this.#blockingBusy && !this.#pumping && this.#blockingHead === this.#blockingQueue.length) {
      // A blocking request with nothing ahead of it runs at once, like a concurrent one.
      this.#blockingBusy = true;
      this.#run(request, handler);
    } else {
      this.#track(request);
      this.#blockingQueue.push(request);
      this.#pumpBlocking();
    }
  }

  /** Tells the hook the request starts; false when the hook refused it (it threw). */
  #watched(request: ServedRequest, streamOpen: boolean): boolean {
    let end;
    try {
      end = this.#requestStarted!(request);
    } catch (error) {
      const refusal = error instanceof RpcError ? error : new RpcError("unavailable", "refused", { cause: error });
      request.abort(refusal);
      this.#turnAway(request.id, refusal.code, streamOpen, refusal.message, refusal.details); // a hook runs before any handler
      return false;
    }
    if (typeof end === "function") request.onEnd = guarded(end, this.#link.report);
    return true;
  }

  /** The caller's metadata and deadline, for the handler. */
  #applyExtensions(request: ServedRequest, ext: Extensions): void {
    if (ext.metadata !== undefined) request.metadata = Object.freeze(ext.metadata);
    const timeout = ext.timeout;
    if (timeout !== undefined) {
      request.deadline = Date.now() + timeout;
      request.deadlineTimer = startTimer(() => this.#deadlinePassed(request), timeout);
    }
  }

  /**
   * The caller's deadline passed: the handler's signal aborts and the caller gets
   * `deadline_exceeded`, even if the caller's own reset is slow to arrive.
   */
  #deadlinePassed(request: ServedRequest): void {
    request.deadlineTimer = undefined;
    if (request.finished || this.#link.state === CLOSED) return;
    const error = new RpcError("deadline_exceeded", `request to cmd ${request.cmd} passed its deadline`);
    this.#endInReset(request.id, "deadline_exceeded", error.message, undefined);
    if (request.isStream && !request.stream.senderDone) this.#rememberReset(request.id);
    request.abort(error);
    this.#untrack(request);
    this.#onSettled();
  }

  #untrack(request: ServedRequest): void {
    if (request.deadlineTimer !== undefined) request.clearDeadline();
    if (!request.tracked) return;
    request.tracked = false;
    this.#incoming.delete(request.id);
  }

  /**
   * Enters a request in the in-flight table, where resets, stream frames and a closing
   * connection can find it. A handler that answers synchronously finishes before any of
   * those could arrive, so its request never needs the table: the common case stays cheap.
   */
  #track(request: ServedRequest): void {
    if (request.tracked) return;
    request.tracked = true;
    this.#incoming.set(request.id, request);
  }

  #continueRequest(request: ServedRequest, flags: number, payload: Uint8Array): void {
    if (!request.isStream) return; // a plain request's id cannot carry more frames
    const stream = request.stream;
    const end = (flags & Flags.StreamEnd) !== 0;
    if (payload.length > 0 || !end) stream.push(payload);
    if (end) stream.end();
  }

  // ---- running handlers -------------------------------------------------------------

  #pumpBlocking(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const queue = this.#blockingQueue;
    while (!this.#blockingBusy && this.#blockingHead < queue.length) {
      const request = queue[this.#blockingHead];
      queue[this.#blockingHead++] = undefined as unknown as ServedRequest;
      if (request.finished) continue; // cancelled while it waited
      this.#blockingBusy = true;
      this.#run(request, this.#mux.lookup(request.cmd)!);
    }
    if (this.#blockingHead === queue.length) {
      this.#blockingQueue = [];
      this.#blockingHead = 0;
    }
    this.#pumping = false;
  }

  #run(request: ServedRequest, handler: Handler): void {
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = handler(request);
    } catch (error) {
      return this.#handlerFailed(request, error);
    }
    if (result instanceof Promise) {
      this.#track(request);
      result.then((value) => this.#reply(request, value), (error) => this.#handlerFailed(request, error));
    } else {
      this.#reply(request, result);
    }
  }

  #reply(request: ServedRequest, result: HandlerResult): void {
    if (request.finished) return this.#settle(request);
    if (result === undefined || result === null) return this.#replyOnce(request, request.cmd, EMPTY);
    if (result instanceof Uint8Array) return this.#replyOnce(request, request.cmd, result);
    if (isAsyncIterable(result) || isReadableStream(result)) {
      this.#replyStream(request, request.cmd, result as AsyncIterable<Uint8Array>);
      return;
    }
    const reply = result as { cmd?: number; payload?: Uint8Array; stream?: AsyncIterable<Uint8Array> };
    const cmd = reply.cmd ?? request.cmd;
    if (reply.stream !== undefined) {
      this.#replyStream(request, cmd, reply.stream);
      return;
    }
    if (reply.payload instanceof Uint8Array && Number.isInteger(cmd) && cmd >= 0 && cmd <= MAX_CMD) {
      return this.#replyOnce(request, cmd, reply.payload);
    }
    this.#handlerFailed(
      request,
      new TypeError(
        `handler for cmd ${request.cmd} returned an unusable reply: expected Uint8Array, ` +
          `{ cmd?, payload: Uint8Array }, { cmd?, stream }, an async iterable or a ReadableStream`,
      ),
    );
  }

  #replyStream(request: ServedRequest, cmd: number, source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): void {
    this.#track(request);
    void streamReply(this.#replies, request, cmd, source);
  }

  #replyOnce(request: ServedRequest, cmd: number, payload: Uint8Array): void {
    const tooBig = this.#oversizeReply(payload);
    if (tooBig !== null) return this.#handlerFailed(request, tooBig);
    if (this.#link.extended) {
      const metadata = request.takeReplyMetadata();
      const trailers = request.takeTrailers();
      if (metadata !== undefined || trailers !== undefined) {
        this.#sender.send(request.id, 0, cmd, payload, { metadata, trailers });
        return this.#settle(request);
      }
    }
    this.#sender.send(request.id, 0, cmd, payload, undefined);
    this.#settle(request);
  }

  /** A reply the peer's limit (assumed equal to ours) would refuse: the handler's fault. */
  #oversizeReply(payload: Uint8Array): RpcError | null {
    const max = this.#link.maxFrameSize;
    if (payload.length + 12 <= max) return null;
    return new RpcError("resource_exhausted", `reply of ${payload.length} bytes exceeds the frame limit of ${max} bytes`);
  }

  #handlerFailed(request: ServedRequest, error: unknown): void {
    if (!request.finished) {
      const known = error instanceof RpcError && error.code !== "unspecified";
      // One reset ends both halves: the caller stops sending too, and its late frames are dropped.
      if (known) this.#endInReset(request.id, error.code, error.message, error.details, error.refused);
      else if (this.#options.exposeErrors) {
        this.#endInReset(request.id, "internal", String((error as Error)?.message ?? error), { stack: (error as Error)?.stack });
      } else this.#endInReset(request.id, "internal", "internal error", undefined);
      request.finished = true;
      if (request.onEnd !== undefined) request.ended(error);
      if (request.isStream && !request.stream.senderDone) {
        this.#rememberReset(request.id);
        request.stream.cancel();
      }
      this.#link.report(error);
    }
    this.#settle(request);
  }

  /** The handler's side is done: free its slot, and the blocking queue if it held it. */
  #settle(request: ServedRequest): void {
    if (!request.finished) {
      request.finished = true;
      if (request.onEnd !== undefined) request.ended(undefined);
      // The caller is still streaming to a handler that has finished: tell it to stop.
      // (Only now, after the reply: a reset sent earlier would fail the caller's call.)
      if (request.isStream && !request.stream.senderDone) this.#stopReading(request);
    }
    this.#untrack(request);
    if (!request.isConcurrent) {
      this.#blockingBusy = false;
      this.#pumpBlocking();
    }
    if (request.payload.length >= LEND_MIN) this.#giveBack(request.payload);
    this.#onSettled();
  }

  /**
   * A lent request payload goes back to the pool once the reply that may point into it has
   * left (lendPayloads). If that cannot be told, it is collected as usual.
   */
  #giveBack(payload: Uint8Array): void {
    const buffer = payloadPool.reclaim(payload);
    if (buffer !== null) this.#link.writer.afterSent(() => payloadPool.recycle(buffer));
  }

  /** Stops the caller's half of a request stream with a reset; its late frames are dropped. */
  #stopReading(request: ServedRequest): void {
    this.#sender.reset(request.id, "cancelled");
    this.#rememberReset(request.id);
    request.stream.cancel();
  }

  #rememberReset(id: RequestId): void {
    const reset = this.#recentlyReset ??= new Set();
    if (reset.size >= RESET_MEMORY) reset.delete(reset.values().next().value!);
    reset.add(id);
  }
}
