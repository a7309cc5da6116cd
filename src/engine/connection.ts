/**
 * The connection engine: one end of a weft/qrpc connection, as `Connection` (api.ts)
 * describes it. Both roles run the same engine; the role only sets id parity (client ids
 * odd, server ids even) and makes a server's requests NonBlock, as qrpc clients require.
 *
 * This file reads frames and sends each where it belongs; the parts it composes do the
 * rest, each with one concern:
 *
 *   dispatcher.ts    every frame in, to where it goes   sender.ts       every frame out
 *   calling.ts       the calls this end starts          serving.ts      the peer's requests (reply_stream.ts)
 *   handshake.ts     weft's handshake, admission        backpressure.ts windows, the read gate
 *   liveness.ts      heartbeats                         inflater.ts     compressed frames in
 *   link.ts          what they all share                hooks.ts        the seam for instrumentation
 */
import { type ErrorCode, ProtocolError, RpcError } from "../common/errors.ts";
import { startTimer, stopTimer, type Timer } from "../common/timers.ts";
import type { CompressionFormat } from "../wire/compression.ts";
import { encodeControl, type ErrorMessage, Op } from "../wire/control.ts";
import { goAway } from "./goaway.ts";
import { DEFAULT_MAX_METADATA_SIZE } from "../wire/extensions.ts";
import { Flags } from "../wire/flags.ts";
import { DEFAULT_MAX_FRAME_SIZE, type RequestId } from "../wire/frame.ts";
import { FrameDecoder } from "../wire/frame_decoder.ts";
import { FrameWriter } from "../wire/frame_writer.ts";
import { Backpressure } from "./backpressure.ts";
import type { Connection as ConnectionShape, Handler, Mux as MuxShape, PushHandler, StreamCounts } from "./api.ts";
import type { Call, CallOptions, PendingCall } from "./call.ts";
import { Calling } from "./calling.ts";
import { Dispatcher } from "./dispatcher.ts";
import { Handshake } from "./handshake.ts";
import type { Hooks } from "./hooks.ts";
import { CLOSED, CLOSING, Link, OPEN } from "./link.ts";
import { Liveness } from "./liveness.ts";
import { ReadPacing } from "./read_pacing.ts";
import { Mux } from "./mux.ts";
import type { CloseOptions, ConnectionConstructor, ConnectionOptions, Role } from "./options.ts";
import type { Response } from "./response.ts";
import { Sender } from "./sender.ts";
import { Serving } from "./serving.ts";
import type { ByteReader, Transport } from "./transport.ts";

export type { CloseOptions, ConnectionConstructor, ConnectionOptions, Role } from "./options.ts";

const EMPTY = new Uint8Array(0);

/**
 * Frames decoded from one chunk before the read loop lets handlers and callers run (and their frames flush). Under
 * load the two ends play ping-pong with batches of frames: decoding a batch whole before writing anything, each end
 * would idle while the other works. Handing the peer its first replies after a slice overlaps the two; but each slice
 * costs a write, which on loopback also runs the receiver's TCP work (30% of a Node server's time). 32 gives 1.2-1.3x
 * the calls/s of 16 at 64 in flight (24 and 48 the same, 64 less; bench/unary.ts).
 */
const SLICE_FRAMES = 32;

/** How long other calls of a plain qrpc client get to finish when one of its calls cannot. */
const STRANDED_GRACE_MS = 1000;

class ConnectionEngine implements ConnectionShape {
  readonly role: Role;
  readonly mux: MuxShape;
  /** Resolves when the connection is closed: with the error that closed it, if any. */
  readonly closed: Promise<Error | undefined>;
  readonly maxFrameSize: number;
  readonly #transport: Transport;
  readonly #link: Link;
  readonly #decoder: FrameDecoder;
  readonly #sender: Sender;
  readonly #backpressure: Backpressure;
  readonly #liveness: Liveness;
  readonly #calling: Calling;
  readonly #serving: Serving;
  readonly #handshake: Handshake;
  readonly #dispatcher: Dispatcher;
  readonly #onError: ConnectionOptions["onError"];
  readonly #hooks: Hooks | undefined;
  #reader: ByteReader | null = null;
  /** Server: when to stop reading for a while (read_pacing.ts); null on a client. */
  #pacing: ReadPacing | null = null;
  #resolveClosed!: (error: Error | undefined) => void;
  /** close() waits on this for in-flight calls to finish. */
  #drained: (() => void) | null = null;
  readonly #checkDrained = (): void => {
    if (this.#drained !== null && this.#calling.size === 0 && this.#serving.size === 0) {
      this.#drained();
      this.#drained = null;
    }
  };

  constructor(transport: Transport, role: Role, options: ConnectionOptions = {}) {
    this.role = role;
    this.mux = options.mux ?? new Mux();
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#transport = transport;
    this.#onError = options.onError;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#decoder = new FrameDecoder(this.maxFrameSize, options.lendPayloads === true, transport.copySmallPayloads === true);
    const writer = new FrameWriter(transport.writable, (error) => this.#transportFailed(error));
    const link = new Link(role, options.weft ?? true, this.maxFrameSize, writer, (error) => this.#report(error));
    this.#link = link;
    const sender = new Sender(link, options.compressionThreshold ?? 1024);
    this.#sender = sender;
    const backpressure = new Backpressure(link, sender, options.streamHighWaterMark ?? 1024 * 1024, (id, error) =>
      this.#dispatcher.failExchange(id, Flags.Stream, error));
    this.#backpressure = backpressure;
    this.#liveness = new Liveness(sender, (error) => this.destroy(error));
    if (role === "server") this.#pacing = new ReadPacing(writer, this.#liveness, options);
    const metadata = options.metadata ?? {};
    let pushId = role === "client" ? 1 : 0;
    this.#calling = new Calling(link, sender, backpressure, {
      nonBlocking: options.nonBlocking ?? false,
      deferFirstFlight: (options.codec ?? "raw") !== "raw" || Object.keys(metadata).length > 0,
      nextPushId: options.nextPushId ?? (() => (pushId += 2)),
      onSettled: this.#checkDrained,
      hooks: options.hooks,
      connection: this,
    });
    this.#serving = new Serving(link, sender, backpressure, this.mux, this, {
      maxConcurrent: options.maxConcurrentRequests ?? 100_000,
      exposeErrors: options.exposeErrors ?? false,
      onSettled: this.#checkDrained,
      hooks: options.hooks,
      plainCallerStranded: (error) => this.#releasePlainCaller(error),
    });
    this.#handshake = new Handshake(link, { sender, backpressure, liveness: this.#liveness, calling: this.#calling }, {
      connection: this,
      dispatch: (id, flags, cmd, payload) => this.#dispatcher.dispatch(id, flags, cmd, payload),
      refuse: (id, code) => this.#serving.refuse(id, code, false),
      grant: (id, bytes) => this.#dispatcher.ours(id) ? this.#calling.grant(id, bytes) : this.#serving.grant(id, bytes),
      fail: (error, cause) => {
        this.#report(cause);
        link.writer.abort(cause);
        this.#shutDown(error, cause);
      },
      refuseConnection: (code, message) => this.#refuseConnection(code, message),
    }, options);
    const parts = { sender, calling: this.#calling, serving: this.#serving, handshake: this.#handshake };
    this.#dispatcher = new Dispatcher(link, parts, this.mux, this, options.maxMetadataSize ?? DEFAULT_MAX_METADATA_SIZE);
    this.#hooks = options.hooks;
    if (this.#hooks?.connectionOpened !== undefined) this.#hook(() => this.#hooks!.connectionOpened!(this));
    this.#readLoop();
  }

  /** Peer address, as the transport reports it. */
  get remoteAddress(): string | undefined {
    return this.#transport.remoteAddress;
  }

  /** True until close() starts or the connection fails. */
  get isOpen(): boolean {
    return this.#link.state === OPEN;
  }

  /** The metadata the peer sent in the handshake (a server reads its client's here). */
  get peerMetadata(): Readonly<Record<string, string>> {
    return this.#handshake.peerMetadata;
  }

  /** The payload codec of this connection: this end's option, or (server) the client's. */
  get codec(): string {
    return this.#handshake.codec;
  }

  /** The compression format agreed with the peer, or null. */
  get compression(): CompressionFormat | null {
    return this.#sender.compression;
  }

  /** True once both ends agreed to checksum every call frame. */
  get checksummed(): boolean {
    return this.#sender.checksum;
  }

  /** The weft protocol version agreed with the peer; 0 while (or if) it speaks plain qrpc. */
  get protocolVersion(): number {
    return this.#link.version;
  }

  /** True once the peer showed it speaks weft (before a version is agreed): blocks and metadata reach it. */
  get peerSpeaksWeft(): boolean {
    return this.#link.weftPeer;
  }

  /** Calls this side is waiting on, and requests from the peer being handled. */
  get inFlight(): { calls: number; requests: number } {
    return { calls: this.#calling.size, requests: this.#serving.size };
  }

  /** Bytes written to this connection that the peer has not taken yet. */
  get unsentBytes(): number {
    return this.#link.writer.unsent + this.#link.writer.pending;
  }

  /** Bytes read from the peer so far, and bytes of the frames written to it (some may not have left yet). */
  get bytes(): { read: number; written: number } {
    return { read: this.#link.bytesRead, written: this.#link.writer.written };
  }

  /** Stream frames each way, and flow-control stalls (sends waiting for credit, read pauses). */
  get streams(): StreamCounts {
    const link = this.#link, open = this.#calling.streaming() + this.#serving.streaming();
    return { open, framesRead: link.streamFramesRead, framesWritten: link.streamFramesWritten, creditWaits: link.creditWaits, readPauses: link.readPauses };
  }

  /** The peer's software and runtime, from the handshake (null from a plain qrpc peer). */
  get peerAgent(): string | null {
    return this.#handshake.peerAgent;
  }

  /** Resolves once at most `bytes` written here are not yet taken by the peer (or it closed). */
  drained(bytes: number): Promise<void> {
    return this.#link.writer.drained(bytes);
  }

  /** Serves `cmd` on this connection's mux (shared by all of a server's connections). */
  handle(cmd: number, handler: Handler): this {
    this.mux.handle(cmd, handler);
    return this;
  }

  /** Receives the peer's pushes (on this connection's mux). */
  onPush(handler: PushHandler | null): this {
    this.mux.onPush(handler);
    return this;
  }

  /**
   * Sends a request and resolves with the reply. A streamed reply resolves on its first
   * frame; walk `response` (or `response.stream`) with `for await` for the rest.
   */
  request(cmd: number, payload: Uint8Array = EMPTY, options?: CallOptions): Promise<Response> {
    try {
      return this.#calling.open(cmd, payload, options).response;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sends a request like `request`, and returns the call itself: its `response`, and
   * `cancel()` to reset it before or while the reply streams. Throws (rather than
   * rejecting) when the call cannot start.
   */
  open(cmd: number, payload: Uint8Array = EMPTY, options?: CallOptions): PendingCall {
    return this.#calling.open(cmd, payload, options);
  }

  /**
   * Opens a streaming call: the request stream starts with the first `send` (or `end`),
   * the reply arrives on `call.response` or by walking `call` with `for await`.
   */
  call(cmd: number, options?: CallOptions): Call {
    return this.#calling.call(cmd, options);
  }

  /** Pushes a frame to the peer: no reply, no state. */
  push(cmd: number, payload: Uint8Array = EMPTY): void {
    this.#calling.push(cmd, payload);
  }

  /**
   * Closes gracefully: no new calls either way, in-flight ones get `timeout` ms to finish,
   * then the connection closes and whatever is left fails with `unavailable`.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    const link = this.#link;
    if (link.state === OPEN) {
      link.state = CLOSING;
      // A weft peer hears it first, so it can move new calls elsewhere at once.
      const fenced = link.weftPeer ? goAway(link, this.#sender) : undefined;
      const busy = this.#calling.size > 0 || this.#serving.size > 0;
      if (busy || fenced !== undefined) {
        const drained = busy ? new Promise<void>((resolve) => (this.#drained = resolve)) : undefined;
        let timer: Timer | undefined;
        const timedOut = new Promise<void>((resolve) => (timer = startTimer(resolve, options.timeout ?? 5000)));
        await Promise.race([Promise.all([drained, fenced]), timedOut, this.closed]);
        stopTimer(timer);
      }
      await link.writer.close();
      this.#shutDown(new RpcError("unavailable", "connection closed before the call completed"), undefined);
    }
    await this.closed;
  }

  /** Closes at once: pending calls fail with `unavailable`, handlers' signals abort. */
  destroy(error?: Error): void {
    if (this.#link.state === CLOSED) return;
    this.#link.writer.abort(error);
    this.#shutDown(
      new RpcError("unavailable", error ? `connection closed: ${error.message}` : "connection closed", { cause: error }),
      error,
    );
  }

  /**
   * Hands `onError` a failure that belongs to no call: for layers above the engine (a typed
   * event the peer sent malformed is dropped and reported here). A throwing hook is ignored.
   */
  reportError(error: unknown): void {
    this.#report(error);
  }

  // ---- reading ---------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    const reader = this.#transport.readable.getReader();
    this.#reader = reader;
    const writer = this.#link.writer;
    const liveness = this.#liveness;
    const inflater = this.#dispatcher.inflater;
    const backpressure = this.#backpressure;
    const onFrame = this.#dispatcher.dispatch;
    const pacing = this.#pacing;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#link.bytesRead += value.length;
        if (liveness.intervalMs > 0) liveness.heard();
        writer.newTurn();
        let rest = value;
        for (;;) {
          const used = this.#decoder.decode(rest, onFrame, SLICE_FRAMES);
          if (inflater.idle !== null) await inflater.idle; // keeps what waits behind it to one chunk
          if (pacing !== null && pacing.due()) await pacing.afterSlice(this.#decoder.frames, used);
          if (used === rest.length) break;
          rest = rest.subarray(used);
          await null; // see SLICE_FRAMES
        }
        if (rest === value && this.#decoder.copiedWhole) reader.reuse?.(value); // a bulk transfer's read buffer
        if (backpressure.gate !== null) await backpressure.gate;
      }
      this.#peerGone(new RpcError("unavailable", "connection closed by the peer"));
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#report(error);
        writer.abort(error);
        this.#shutDown(new RpcError("unavailable", `connection closed: ${error.message}`, { cause: error }), error);
      } else {
        this.#peerGone(new RpcError("unavailable", `connection lost: ${(error as Error)?.message ?? error}`, { cause: error }));
      }
    }
  }

  #peerGone(error: RpcError): void {
    if (this.#link.state === CLOSED) return;
    this.#link.writer.abort(error);
    this.#shutDown(error, undefined);
  }

  // ---- closing ---------------------------------------------------------------------

  /** Tells a weft peer why it is refused (ERROR), then closes once that frame is out. */
  #refuseConnection(code: ErrorCode, message: string): void {
    const link = this.#link;
    if (link.state === CLOSED) return;
    const error = new RpcError(code, message);
    this.#handshake.refuse();
    this.#sender.control(Op.Error, encodeControl({ code, message } satisfies ErrorMessage));
    link.state = CLOSING;
    link.writer.close().finally(() => this.#shutDown(new RpcError(code, `connection refused: ${message}`), error));
    this.#report(error);
  }

  /**
   * A plain qrpc client's call ended in a reset, which its caller never reads: close (its other
   * calls get a moment) so the caller fails instead of waiting forever, as qrpc's server does.
   */
  #releasePlainCaller(error: RpcError): void {
    if (this.#link.state !== OPEN) return;
    this.#report(new RpcError(error.code, `closing a plain qrpc connection, whose caller cannot read a reset: ${error.message}`, { cause: error }));
    void this.close({ timeout: STRANDED_GRACE_MS });
  }

  #transportFailed(error: unknown): void {
    if (this.#link.state === CLOSED) return;
    this.#peerGone(new RpcError("unavailable", `write failed: ${(error as Error)?.message ?? error}`, { cause: error }));
  }

  /** Fails everything still in flight with `error` and releases the transport. */
  #shutDown(error: RpcError, cause: Error | undefined): void {
    const link = this.#link;
    if (link.state === CLOSED) return;
    link.state = CLOSED;
    link.closeError = error;
    this.#liveness.stop();
    this.#handshake.stop();
    this.#calling.closeAll(error);
    this.#serving.abortAll(error);
    this.#backpressure.release();
    this.#reader?.cancel(error).catch(() => {});
    this.#drained?.();
    this.#resolveClosed(cause);
    if (this.#hooks?.connectionClosed !== undefined) this.#hook(() => this.#hooks!.connectionClosed!(this, cause));
  }

  /** Runs a hook; what it throws goes to onError. */
  #hook(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(error, this);
    } catch {
      // An error hook that throws must not take the connection down with it.
    }
  }
}

/**
 * Runs one end of a connection over `transport`. Adapters and `Server.accept` make them;
 * make one yourself for a transport of your own (`new Connection(transport, "client")`).
 */
export const Connection: ConnectionConstructor = ConnectionEngine;
export type Connection = ConnectionShape;
