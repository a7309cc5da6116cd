import { Call, type CallHost, type CallOptions, PendingCall } from "./call.ts";
import {
  decodeControl,
  encodeControl,
  type ErrorMessage,
  type GoAwayMessage,
  type HelloMessage,
  Op,
  PROTOCOL_VERSIONS,
  type SettingsMessage,
  WeftFlags,
} from "../wire/control.ts";
import {
  encodeResetBody,
  type ErrorCode,
  ErrorCodes,
  errorForReset,
  ProtocolError,
  resetReasonOf,
  RpcError,
} from "../common/errors.ts";
import {
  DEFAULT_MAX_METADATA_SIZE,
  checkMetadata,
  decodeExtensions,
  encodeExtensions,
  ExtensionError,
  type Extensions,
  hasExtensions,
  hasMetadata,
} from "../wire/extensions.ts";
import { Flags, STREAM_BITS } from "../wire/flags.ts";
import { FRAME_OVERHEAD, SendCredit } from "./flow_control.ts";
import { compress, type CompressionFormat, decompress } from "../wire/compression.ts";
import { crc32 } from "../wire/crc32.ts";
import { DEFAULT_MAX_FRAME_SIZE, isOddId, MAX_CMD, readUint32, type RequestId, uint32Bytes } from "../wire/frame.ts";
import { FrameDecoder } from "../wire/frame_decoder.ts";
import { FrameWriter, type LaterFrame } from "../wire/frame_writer.ts";
import { IncomingRequest } from "./incoming_request.ts";
import { MessageStream } from "./message_stream.ts";
import { type Handler, type HandlerResult, Mux, type PushHandler } from "./mux.ts";
import type { Response } from "./response.ts";
import { isAsyncIterable, isReadableStream, toAsyncIterator } from "../common/streams.ts";
import type { Transport } from "./transport.ts";
import { durationProblem, startTimer, stopTimer, type Timer } from "../common/timers.ts";

/** Which end of the connection this is: it decides id parity and flags of outgoing requests. */
export type Role = "client" | "server";

export interface ConnectionOptions {
  /** Handlers for requests and pushes from the peer. Default: a new, empty mux. */
  mux?: Mux;
  /** Largest length field accepted and sent (header bytes after it included). Default 10 MiB. */
  maxFrameSize?: number;
  /** Requests from the peer in flight at once; more are refused with `resource_exhausted`. */
  maxConcurrentRequests?: number;
  /**
   * Per-stream receive window, in bytes (default 1 MiB). With a weft peer, each stream is
   * flow-controlled: its sender waits once this much is unread, and nothing else on the
   * connection does. With a plain qrpc peer (no flow control), a stream holding this much
   * unread makes the connection stop reading until it drains: qrpc's model.
   */
  streamHighWaterMark?: number;
  /** Largest extension block (per-call metadata) accepted from the peer. Default 8 KiB. */
  maxMetadataSize?: number;
  /**
   * The payload codec (a name from src/codec/: "raw", "json", "msgpack"; default "raw").
   * A client announces it in SETTINGS; a server refuses a client whose codec is not in
   * its `codecs`.
   */
  codec?: string;
  /** Server: the codecs it accepts (default raw, json, msgpack). */
  codecs?: string[];
  /**
   * Client: compress payloads with this format once the server agrees (default: none).
   * Both ends then compress payloads of at least `compressionThreshold` bytes, and keep a
   * payload as it is when compressing would not shrink it. Server: false refuses; by
   * default it accepts gzip, deflate and deflate-raw.
   */
  compression?: CompressionFormat | false;
  /**
   * Payloads smaller than this are never compressed. Default 1 KiB, where Bun and Deno
   * spend about half of a compression round trip on fixed cost (bench/compression.ts).
   * Node's CompressionStream costs 0.1-0.6 ms per payload whatever its size: use 16 KiB there.
   */
  compressionThreshold?: number;
  /**
   * Client: true asks for a CRC-32 on every call frame, both ways; a mismatch fails that
   * call with `data_loss`. Server: false refuses; by default it accepts.
   */
  checksum?: boolean;
  /** Default for `CallOptions.nonBlocking`. */
  nonBlocking?: boolean;
  /**
   * Connection-level failures (bad frames, transport errors), handler errors, and typed
   * events that arrived malformed (dropped) land here.
   */
  onError?: (error: unknown, connection: Connection) => void;
  /** Numbers pushed frames; a server shares one counter across its connections. */
  nextPushId?: () => number;
  /**
   * Speak weft's extensions with a peer that shows it speaks weft (default true). With
   * false, the connection is pure qrpc: it neither announces itself nor answers a hello.
   */
  weft?: boolean;
  /**
   * Milliseconds between heartbeats once both ends speak weft (default 10000; 0: none).
   * The two ends use the smaller. A peer silent for 3 intervals is declared dead: the
   * connection closes and its calls fail with `unavailable`, within 4 intervals of its
   * last frame.
   */
  heartbeatInterval?: number;
  /** The peer announced it is going away: new calls here will be refused; move them elsewhere. */
  onGoAway?: (reason: string, connection: Connection) => void;
  /** Client: connection metadata (an auth token...) sent in the handshake to a weft server. */
  metadata?: Record<string, string>;
  /**
   * Server: accepts or refuses a connection by the client's metadata; throw (an RpcError,
   * say `unauthenticated`) to refuse. Until it accepts, no request of that connection runs;
   * a client that never shows weft cannot present metadata and is refused.
   */
  authenticate?: (metadata: Record<string, string>, connection: Connection) => void | Promise<void>;
  /**
   * Send an unexpected handler error's message (and stack, in details) to a weft caller.
   * Default false: the caller gets `internal` and "internal error"; the error goes to onError.
   * An RpcError a handler throws always travels with its code, message and details.
   */
  exposeErrors?: boolean;
}

export interface CloseOptions {
  /** Milliseconds to let in-flight calls finish before the rest are failed. Default 5000. */
  timeout?: number;
}

const EMPTY = new Uint8Array(0);
const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;
/** Frames that leave the hot path: resets, codec, push, and weft's two bits. */
const SPECIAL_BITS = Flags.StreamRst | Flags.Codec | Flags.Push | WeftFlags.Hello | WeftFlags.Control;
/** weft's two bits: 0x80 alone is a control frame, 0x40 a hello or a block, both a deferred block. */
const WEFT_BITS = WeftFlags.Hello | WeftFlags.Control;

/** A reply stream that has produced this long without a pause gives the event loop a turn. */
const FAIRNESS_MS = 5;

/** Frames a server holds for a connection that has not authenticated yet. */
const HOLD_LIMIT = 1024;

/** Metadata as string pairs only: anything else from the wire is dropped. */
function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== "object" || value === null) return out;
  for (const [key, item] of Object.entries(value)) if (typeof item === "string") out[key] = item;
  return out;
}

/** Both ends heartbeat at the smaller of their intervals; 0 on either side turns it off. */
function agreedInterval(mine: number, theirs: number): number {
  return mine > 0 && theirs > 0 ? Math.min(mine, theirs) : 0;
}

/** The CompressionStream formats every runtime weft supports has (src/wire/compression.ts). */
const COMPRESSION_FORMATS: readonly string[] = ["gzip", "deflate", "deflate-raw"];

/** How many recently reset stream ids to remember, so their late frames are dropped. */
const RESET_MEMORY = 1024;
/**
 * Frames decoded from one chunk before the read loop lets handlers and callers run (and
 * their frames flush). Under load the two ends play ping-pong with batches of frames: if a
 * batch is decoded whole before anything is written, each end idles while the other works.
 * Handing the peer its first replies after 16 frames overlaps the two, which measured
 * 1.7x (Node) to 1.8x (Bun, Deno) the calls/s at 64 in flight; 4 or 8 cost more in writes
 * than they win, 32 overlaps less (bench/unary.ts, pinned, medians of 3).
 */
const SLICE_FRAMES = 16;

/**
 * One end of a weft/qrpc connection. Both roles run the same engine: each side can call
 * the other, stream both ways, and push; the role only sets id parity (client ids odd,
 * server ids even) and makes a server's requests NonBlock, as qrpc clients require.
 *
 * The read loop never waits for a handler, so a blocking handler that calls back into
 * its peer gets its reply (qrpc deadlocks there). Blocking requests still run one at a
 * time, in arrival order, from a queue.
 */
export class Connection {
  readonly role: Role;
  readonly mux: Mux;
  /** Resolves when the connection is closed: with the error that closed it, if any. */
  readonly closed: Promise<Error | undefined>;
  readonly maxFrameSize: number;

  #transport: Transport;
  #writer: FrameWriter;
  #decoder: FrameDecoder;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #state = OPEN;
  #closeError: RpcError | null = null;
  #resolveClosed!: (error: Error | undefined) => void;
  #onError: ((error: unknown, connection: Connection) => void) | undefined;
  #nextPushId: () => number;

  #nextId: number;
  /** Clients number their requests odd, servers even: a frame's id parity says whose call it is. */
  readonly #oddIdsAreOurs: boolean;
  #calls = new Map<RequestId, PendingCall>();
  #incoming = new Map<RequestId, IncomingRequest>();
  #recentlyReset = new Set<RequestId>();
  #maxConcurrent: number;
  #streamHighWaterMark: number;
  #nonBlockingDefault: boolean;

  #blockingQueue: IncomingRequest[] = [];
  #blockingHead = 0;
  #blockingBusy = false;
  #pumping = false;

  /** Streams over their high-water mark; while any, the read loop waits on #readGate. */
  #overfull = 0;
  #readGate: Promise<void> | null = null;
  #openReadGate: (() => void) | null = null;
  #drained: (() => void) | null = null;

  // weft extensions (see control.ts)
  readonly #weft: boolean;
  /** The peer showed it speaks weft: control frames may go to it. */
  #weftPeer = false;
  /** WeftHello while a client still has to hear whether its server speaks weft. */
  #helloBit = 0;
  #version = 0;
  #heartbeatOption: number;
  #heartbeatMs = 0;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined = undefined;
  #lastReceived = 0;
  #peerGoingAway: string | null = null;
  #onGoAway: ((reason: string, connection: Connection) => void) | undefined;
  #metadata: Record<string, string>;
  #peerMetadata: Readonly<Record<string, string>> = {};
  #authenticate: ConnectionOptions["authenticate"];
  /** Frames held until the connection is authenticated (null when nothing is held). */
  #held: Array<[RequestId, number, number, Uint8Array]> | null = null;
  #exposeErrors: boolean;
  /** Waiting for `authenticate` to accept the client. */
  #authPending = false;
  /** Extension blocks may go to the peer (server: it greeted; client: the server greeted it). */
  #extended = false;
  /** Both ends announced a window: streams opened from now on are flow-controlled. */
  #flowControl = false;
  #peerWindow = 0;
  #maxMetadataSize: number;
  /** Client: blocks of calls sent before the handshake, sent as EXT once the server greets. */
  #deferredExt: Map<RequestId, Uint8Array> | null = null;
  /**
   * Client: calls sent before the handshake wait on the server for SETTINGS, because what
   * SETTINGS says changes how the server reads them (a codec other than raw, connection
   * metadata its handlers read as peerMetadata).
   */
  #deferFirstFlight = false;
  /** Server: held calls whose block is still to come in an EXT frame. */
  #awaitingExt: Set<RequestId> | null = null;
  #codecOption: string;
  #codecsAccepted: readonly string[];
  #compressionOption: CompressionFormat | false | undefined;
  #compressionThreshold: number;
  #checksumOption: boolean | undefined;
  /** The agreed compression format, or null. */
  #compression: CompressionFormat | null = null;
  #checksum = false;
  /** Compression or checksums agreed: call frames take the slow path of #sendFrame. */
  #transforming = false;
  /** Frames that arrived behind a payload being decompressed, in order; null when none. */
  #inflating: Array<[RequestId, number, number, Uint8Array]> | null = null;
  #inflated: Promise<void> | null = null;
  #inflatedResolve: (() => void) | null = null;

  #host: CallHost;
  readonly #onFrame = (id: RequestId, flags: number, cmd: number, payload: Uint8Array) =>
    this.#dispatch(id, flags, cmd, payload);

  constructor(transport: Transport, role: Role, options: ConnectionOptions = {}) {
    this.role = role;
    this.mux = options.mux ?? new Mux();
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxConcurrent = options.maxConcurrentRequests ?? 100_000;
    this.#streamHighWaterMark = options.streamHighWaterMark ?? 1024 * 1024;
    this.#nonBlockingDefault = options.nonBlocking ?? false;
    this.#onError = options.onError;
    this.#weft = options.weft ?? true;
    this.#heartbeatOption = options.heartbeatInterval ?? 10_000;
    this.#onGoAway = options.onGoAway;
    this.#metadata = options.metadata ?? {};
    this.#exposeErrors = options.exposeErrors ?? false;
    this.#maxMetadataSize = options.maxMetadataSize ?? DEFAULT_MAX_METADATA_SIZE;
    this.#codecOption = options.codec ?? "raw";
    this.#deferFirstFlight = this.#codecOption !== "raw" || Object.keys(this.#metadata).length > 0;
    this.#codecsAccepted = options.codecs ?? ["raw", "json", "msgpack"];
    this.#compressionOption = options.compression;
    this.#compressionThreshold = options.compressionThreshold ?? 1024;
    this.#checksumOption = options.checksum;
    this.#authenticate = role === "server" ? options.authenticate : undefined;
    if (this.#authenticate !== undefined) {
      this.#authPending = true;
      this.#held = [];
    }
    this.#helloBit = this.#weft && role === "client" ? WeftFlags.Hello : 0;
    let pushId = role === "client" ? 1 : 0;
    this.#nextPushId = options.nextPushId ?? (() => (pushId += 2));
    // qrpc numbers client requests 3, 5, 7... and server requests 2, 4, 6...
    this.#nextId = role === "client" ? 3 : 2;
    this.#oddIdsAreOurs = role === "client";
    this.#transport = transport;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#decoder = new FrameDecoder(this.maxFrameSize);
    this.#writer = new FrameWriter(transport.writable, (error) => this.#transportFailed(error));
    this.#host = this.#makeCallHost();
    this.#readLoop();
  }

  /** Peer address, as the transport reports it. */
  get remoteAddress(): string | undefined {
    return this.#transport.remoteAddress;
  }

  /** True until close() starts or the connection fails. */
  get isOpen(): boolean {
    return this.#state === OPEN;
  }

  /** The metadata the peer sent in the handshake (a server reads its client's here). */
  get peerMetadata(): Readonly<Record<string, string>> {
    return this.#peerMetadata;
  }

  /** The payload codec of this connection: this end's option, or (server) the client's. */
  get codec(): string {
    return this.#codecOption;
  }

  /** The compression format agreed with the peer, or null. */
  get compression(): CompressionFormat | null {
    return this.#compression;
  }

  /** True once both ends agreed to checksum every call frame. */
  get checksummed(): boolean {
    return this.#checksum;
  }

  /** The weft protocol version agreed with the peer; 0 while (or if) it speaks plain qrpc. */
  get protocolVersion(): number {
    return this.#version;
  }

  /** Calls this side is waiting on, and requests from the peer being handled. */
  get inFlight(): { calls: number; requests: number } {
    return { calls: this.#calls.size, requests: this.#incoming.size };
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
      return this.open(cmd, payload, options).response;
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
    const id = this.#newCallId(cmd, options, payload);
    const call = new PendingCall(this.#host, id, cmd, options);
    this.#calls.set(id, call);
    const flags = this.#host.baseFlags | ((options?.nonBlocking ?? this.#nonBlockingDefault) ? Flags.NonBlock : 0);
    const ext = options !== undefined && (options.metadata !== undefined || options.timeout !== undefined)
      ? { metadata: options.metadata, timeout: options.timeout }
      : undefined;
    // Before the handshake (#helloBit) the call may have to wait on the server: #writeCall decides.
    if (ext !== undefined || this.#helloBit !== 0) this.#writeCall(id, flags, cmd, payload, ext);
    else this.#sendFrame(id, flags, cmd, payload, undefined);
    return call;
  }

  /**
   * Opens a streaming call: the request stream starts with the first `send` (or `end`),
   * the reply arrives on `call.response` or by walking `call` with `for await`.
   */
  call(cmd: number, options?: CallOptions): Call {
    const id = this.#newCallId(cmd, options);
    if (options?.nonBlocking === undefined && this.#nonBlockingDefault) options = { ...options, nonBlocking: true };
    const call = new Call(this.#host, id, cmd, options);
    this.#calls.set(id, call);
    // The reply promise may reject with nobody awaiting it (a caller that only sends).
    call.response.catch(() => {});
    return call;
  }

  /** Pushes a frame to the peer: no reply, no state. */
  push(cmd: number, payload: Uint8Array = EMPTY): void {
    this.#checkCmd(cmd);
    this.#checkPayload(payload);
    if (this.#state === CLOSED) throw this.#closeError ?? new RpcError("unavailable", "connection is closed");
    this.#sendFrame(this.#nextPushId(), Flags.Push | this.#helloBit, cmd, payload, undefined);
  }

  /**
   * Closes gracefully: no new calls either way, in-flight ones get `timeout` ms to finish,
   * then the connection closes and whatever is left fails with `unavailable`.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#state === OPEN) {
      this.#state = CLOSING;
      // A weft peer hears it first, so it can move new calls elsewhere at once.
      if (this.#weftPeer) this.#sendControl(Op.GoAway, encodeControl({ reason: "closing" } satisfies GoAwayMessage));
      if (this.#calls.size > 0 || this.#incoming.size > 0) {
        const drained = new Promise<void>((resolve) => (this.#drained = resolve));
        let timer: Timer | undefined;
        const timedOut = new Promise<void>((resolve) => (timer = startTimer(resolve, options.timeout ?? 5000)));
        await Promise.race([drained, timedOut]);
        stopTimer(timer);
      }
      await this.#writer.close();
      this.#shutDown(new RpcError("unavailable", "connection closed before the call completed"), undefined);
    }
    await this.closed;
  }

  /** Closes at once: pending calls fail with `unavailable`, handlers' signals abort. */
  destroy(error?: Error): void {
    if (this.#state === CLOSED) return;
    this.#writer.abort(error);
    this.#shutDown(
      new RpcError("unavailable", error ? `connection closed: ${error.message}` : "connection closed", { cause: error }),
      error,
    );
  }

  // ---- reading ---------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    const reader = this.#transport.readable.getReader();
    this.#reader = reader;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (this.#heartbeatMs > 0) this.#lastReceived = performance.now();
        this.#writer.newTurn();
        let rest = value;
        for (;;) {
          const used = this.#decoder.decode(rest, this.#onFrame, SLICE_FRAMES);
          if (this.#inflated !== null) await this.#inflated; // keeps what waits behind it to one chunk
          if (used === rest.length) break;
          rest = rest.subarray(used);
          await null; // see SLICE_FRAMES
        }
        if (this.#readGate !== null) await this.#readGate;
      }
      this.#peerGone(new RpcError("unavailable", "connection closed by the peer"));
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#report(error);
        this.#writer.abort(error);
        this.#shutDown(new RpcError("unavailable", `connection closed: ${error.message}`, { cause: error }), error);
      } else {
        this.#peerGone(
          new RpcError("unavailable", `connection lost: ${(error as Error)?.message ?? error}`, { cause: error }),
        );
      }
    }
  }

  #peerGone(error: RpcError): void {
    if (this.#state === CLOSED) return;
    this.#writer.abort(error);
    this.#shutDown(error, undefined);
  }

  #dispatch(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    if (this.#state === CLOSED) return;
    if (this.#inflating !== null) {
      this.#inflating.push([id, flags, cmd, payload]);
      return;
    }
    if (this.#held !== null && (flags & WEFT_BITS) !== WeftFlags.Control) return this.#hold(id, flags, cmd, payload);
    if ((flags & SPECIAL_BITS) !== 0) return this.#dispatchSpecial(id, flags, cmd, payload);
    this.#route(id, flags, cmd, payload, undefined);
  }

  /** Hands a call's frame to its call (a reply) or its request (from the peer). */
  #route(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    if (isOddId(id) === this.#oddIdsAreOurs) {
      // A reply before any HELLO: the server speaks plain qrpc (a weft server greets first).
      if (this.#helloBit !== 0) this.#peerIsPlain();
      this.#calls.get(id)?.onFrame(flags, cmd, payload, ext);
      return;
    }
    const request = this.#incoming.get(id);
    if (request !== undefined) return this.#continueRequest(request, flags, payload);
    if (this.#recentlyReset.has(id)) {
      if ((flags & Flags.StreamEnd) !== 0) this.#recentlyReset.delete(id);
      return;
    }
    this.#newRequest(id, flags, cmd, payload, ext);
  }

  /** Resets, frames under a codec, pushes, weft's bits: off the hot path. */
  #dispatchSpecial(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    const weftBits = flags & WEFT_BITS;
    if (weftBits !== 0) {
      // A pure qrpc end ignores both bits, as qrpc does.
      if (!this.#weft) return this.#dispatch(id, flags & ~WEFT_BITS, cmd, payload);
      if (weftBits === WeftFlags.Control) return this.#receiveControl(id, cmd, payload);
      if (this.role === "server" && this.#version === 0) {
        // The client's hello; with Control too, a call whose block follows in EXT.
        this.#greet();
        if (weftBits === WEFT_BITS) {
          this.#held ??= [];
          return this.#hold(id, flags, cmd, payload);
        }
        return this.#dispatch(id, flags & ~WEFT_BITS, cmd, payload);
      }
      return this.#receiveExtended(id, flags & ~WEFT_BITS, cmd, payload);
    }
    if ((flags & Flags.StreamRst) !== 0 && (flags & Flags.Push) === 0) {
      return isOddId(id) === this.#oddIdsAreOurs ? this.#calls.get(id)?.onReset(cmd, payload) : this.#peerReset(id, cmd);
    }
    if ((flags & Flags.Codec) !== 0) {
      if (this.#compression !== null) return this.#inflate(id, flags & ~Flags.Codec, cmd, payload, undefined);
      return this.#unknownCodec(id, flags, cmd);
    }
    this.#receivePush(flags, cmd, payload);
  }

  /** A call's frame with an extension block (0x40 once the handshake is done). */
  #receiveExtended(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    let ext: Extensions;
    let body: Uint8Array;
    try {
      ({ ext, body } = decodeExtensions(payload, this.#maxMetadataSize));
    } catch (error) {
      return this.#unreadableExtensions(id, flags, cmd, error as ExtensionError);
    }
    if (ext.checksum !== undefined) {
      const actual = crc32(body);
      if (actual !== ext.checksum) {
        const message = `cmd ${cmd}: checksum mismatch (CRC-32 ${hex32(actual)}, the sender said ${hex32(ext.checksum)})`;
        return this.#failExchange(id, flags, new RpcError("data_loss", message));
      }
    }
    if ((flags & Flags.Codec) !== 0 && this.#compression !== null) {
      return this.#inflate(id, flags & ~Flags.Codec, cmd, body, ext);
    }
    if ((flags & SPECIAL_BITS) !== 0) return this.#dispatchSpecial(id, flags, cmd, body);
    this.#route(id, flags, cmd, body, ext);
  }

  /**
   * A compressed payload: decompressed off the read loop, while the frames after it wait
   * (in order) behind it. Corrupt or oversized, it fails its exchange alone.
   */
  #inflate(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    this.#inflating = [];
    this.#inflated ??= new Promise((resolve) => (this.#inflatedResolve = resolve));
    decompress(payload, this.#compression!, this.maxFrameSize - 12)
      .then(
        (plain) => {
          if (this.#state === CLOSED) return;
          if ((flags & SPECIAL_BITS) !== 0) this.#dispatchSpecial(id, flags, cmd, plain);
          else this.#route(id, flags, cmd, plain, ext);
        },
        (error) => {
          const code: ErrorCode = error instanceof RpcError ? error.code : "data_loss";
          this.#failExchange(id, flags, new RpcError(code, `cmd ${cmd}: ${(error as Error)?.message ?? error}`));
        },
      )
      .then(() => this.#drainInflating());
  }

  /** Dispatches what waited behind a decompression, until another one starts. */
  #drainInflating(): void {
    const waiting = this.#inflating ?? [];
    this.#inflating = null;
    for (let i = 0; i < waiting.length; i++) {
      const [id, flags, cmd, payload] = waiting[i];
      this.#dispatch(id, flags, cmd, payload);
      if (this.#inflating !== null) {
        (this.#inflating as Array<[RequestId, number, number, Uint8Array]>).push(...waiting.slice(i + 1));
        return;
      }
    }
    this.#inflated = null;
    this.#inflatedResolve?.();
    this.#inflatedResolve = null;
  }

  /** A block over the limit or malformed fails its exchange, and nothing else. */
  #unreadableExtensions(id: RequestId, flags: number, cmd: number, problem: ExtensionError): void {
    const code: ErrorCode = problem.tooLarge ? "resource_exhausted" : "internal";
    const what = problem.tooLarge ? "" : "malformed extension block: ";
    this.#failExchange(id, flags, new RpcError(code, `cmd ${cmd}: ${what}${problem.message}`));
  }

  /** A frame this end cannot read fails the exchange it belongs to, and nothing else. */
  #failExchange(id: RequestId, flags: number, error: RpcError): void {
    const code = error.code;
    this.#report(error);
    if ((flags & Flags.Push) !== 0) return;
    if (isOddId(id) === this.#oddIdsAreOurs) {
      const call = this.#calls.get(id);
      if (call === undefined) return;
      this.#writer.write(id, Flags.StreamRst, resetReasonOf(code), this.#resetBody(error.message, undefined));
      this.#calls.delete(id);
      call.onClose(error);
      return this.#checkDrained();
    }
    const open = (flags & Flags.Stream) !== 0 && (flags & Flags.StreamEnd) === 0;
    const request = this.#incoming.get(id);
    if (request !== undefined) {
      const streamOpen = request.isStream && !request.stream.senderDone;
      request.abort(error);
      this.#untrack(request);
      this.#refuse(id, code, streamOpen, error.message);
      return this.#checkDrained();
    }
    this.#refuse(id, code, open, error.message);
  }

  #newRequest(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext?: Extensions): void {
    const isStream = (flags & STREAM_BITS) !== 0;
    const ended = (flags & Flags.StreamEnd) !== 0;
    const open = isStream && !ended;
    if (this.#state !== OPEN) return this.#refuse(id, "unavailable", open, "the peer is closing");
    if (this.#incoming.size >= this.#maxConcurrent) {
      return this.#refuse(id, "resource_exhausted", open, `more than ${this.#maxConcurrent} requests in flight`);
    }
    const handler = this.mux.lookup(cmd);
    if (handler === undefined) return this.#refuse(id, "unimplemented", open, `no such cmd: ${cmd}`);

    let stream: MessageStream | null = null;
    if (isStream) {
      stream = this.#newStream(id, ext?.flowControlled === true);
      if (payload.length > 0 || !ended) stream.push(payload);
      if (ended) stream.end();
    }
    const request = new IncomingRequest(this, id, flags, cmd, payload, stream);
    if (ext !== undefined) this.#applyExtensions(request, ext);
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

  /** The caller's metadata and deadline, for the handler. */
  #applyExtensions(request: IncomingRequest, ext: Extensions): void {
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
  #deadlinePassed(request: IncomingRequest): void {
    request.deadlineTimer = undefined;
    if (request.finished || this.#state === CLOSED) return;
    const error = new RpcError("deadline_exceeded", `request to cmd ${request.cmd} passed its deadline`);
    const body = this.#resetBody(error.message, undefined);
    this.#writer.write(request.id, Flags.StreamRst, resetReasonOf("deadline_exceeded"), body);
    if (request.isStream && !request.stream.senderDone) this.#rememberReset(request.id);
    request.abort(error);
    this.#untrack(request);
    this.#checkDrained();
  }

  #untrack(request: IncomingRequest): void {
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
  #track(request: IncomingRequest): void {
    if (request.tracked) return;
    request.tracked = true;
    this.#incoming.set(request.id, request);
  }

  #continueRequest(request: IncomingRequest, flags: number, payload: Uint8Array): void {
    if (!request.isStream) return; // a plain request's id cannot carry more frames
    const stream = request.stream;
    const end = (flags & Flags.StreamEnd) !== 0;
    if (payload.length > 0 || !end) stream.push(payload);
    if (end) stream.end();
  }

  /**
   * A payload under a codec this connection never agreed to cannot be read. qrpc closes
   * the connection here; weft fails only the exchange the frame belongs to.
   */
  #unknownCodec(id: RequestId, flags: number, cmd: number): void {
    const message = `frame for cmd ${cmd} has the Codec flag (0x20), but no codec was negotiated on this connection`;
    this.#failExchange(id, flags, new RpcError("unimplemented", message));
  }

  #receivePush(flags: number, cmd: number, payload: Uint8Array): void {
    const handler = this.mux.pushHandler;
    if (handler === null) return;
    try {
      handler({ cmd, flags, payload, connection: this });
    } catch (error) {
      this.#report(error);
    }
  }

  /** The peer reset a request it sent us: abort its handler; nothing more goes back. */
  #peerReset(id: RequestId, reason: number): void {
    const request = this.#incoming.get(id);
    if (request === undefined) return;
    request.abort(errorForReset(reason, `request to cmd ${request.cmd}`));
    this.#untrack(request);
    this.#checkDrained();
  }

  // ---- handling --------------------------------------------------------------------

  #pumpBlocking(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const queue = this.#blockingQueue;
    while (!this.#blockingBusy && this.#blockingHead < queue.length) {
      const request = queue[this.#blockingHead];
      queue[this.#blockingHead++] = undefined as unknown as IncomingRequest;
      if (request.finished) continue; // cancelled while it waited
      this.#blockingBusy = true;
      this.#run(request, this.mux.lookup(request.cmd)!);
    }
    if (this.#blockingHead === queue.length) {
      this.#blockingQueue = [];
      this.#blockingHead = 0;
    }
    this.#pumping = false;
  }

  #run(request: IncomingRequest, handler: Handler): void {
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

  #reply(request: IncomingRequest, result: HandlerResult): void {
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

  #replyOnce(request: IncomingRequest, cmd: number, payload: Uint8Array): void {
    const tooBig = this.#oversizeReply(payload);
    if (tooBig !== null) return this.#handlerFailed(request, tooBig);
    if (this.#extended) {
      const metadata = request.takeReplyMetadata();
      const trailers = request.takeTrailers();
      if (metadata !== undefined || trailers !== undefined) {
        this.#sendFrame(request.id, 0, cmd, payload, { metadata, trailers });
        return this.#settle(request);
      }
    }
    this.#sendFrame(request.id, 0, cmd, payload, undefined);
    this.#settle(request);
  }

  /** A reply the peer's limit (assumed equal to ours) would refuse: the handler's fault. */
  #oversizeReply(payload: Uint8Array): RpcError | null {
    if (payload.length + 12 <= this.maxFrameSize) return null;
    return new RpcError(
      "resource_exhausted",
      `reply of ${payload.length} bytes exceeds the frame limit of ${this.maxFrameSize} bytes`,
    );
  }

  async #replyStream(
    request: IncomingRequest,
    cmd: number,
    source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  ): Promise<void> {
    this.#track(request);
    const iterator = toAsyncIterator(source);
    const credit = this.#newSendCredit();
    request.sendCredit = credit;
    let opened = false;
    let sent = 0;
    let since = performance.now();
    try {
      for (;;) {
        // A producer that never waits, read by a fast peer, would otherwise keep this
        // process in microtasks: resets and other connections would go unread.
        if ((++sent & 255) === 0 && performance.now() - since > FAIRNESS_MS) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          since = performance.now();
        }
        const step = await iterator.next();
        if (request.finished) {
          iterator.return?.().catch(() => {});
          return this.#settle(request);
        }
        if (step.done) break;
        const chunk = step.value;
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(`reply stream of cmd ${request.cmd} yielded a ${typeof chunk}, not a Uint8Array`);
        }
        const tooBig = this.#oversizeReply(chunk);
        if (tooBig !== null) throw tooBig;
        if (credit !== null) {
          if (!credit.available) {
            await credit.wait(); // the caller reads slowly: only this stream waits
            if (request.finished) {
              iterator.return?.().catch(() => {});
              return this.#settle(request);
            }
          }
          credit.consume(chunk.length);
        }
        if (opened) {
          this.#sendFrame(request.id, Flags.Stream, cmd, chunk, undefined);
        } else {
          opened = true;
          const ext = { flowControlled: credit !== null, metadata: request.takeReplyMetadata() };
          this.#sendFrame(request.id, Flags.Stream, cmd, chunk, ext);
        }
        if (this.#writer.backpressured) await this.#writer.ready;
      }
      if (!request.finished) {
        const trailers = request.takeTrailers();
        const ext = opened ? { trailers } : { flowControlled: credit !== null, metadata: request.takeReplyMetadata(), trailers };
        this.#sendFrame(request.id, STREAM_BITS, cmd, EMPTY, ext);
      }
      this.#settle(request);
    } catch (error) {
      iterator.return?.().catch(() => {});
      this.#handlerFailed(request, error);
    }
  }

  #handlerFailed(request: IncomingRequest, error: unknown): void {
    if (!request.finished) {
      const known = error instanceof RpcError && error.code !== "unspecified";
      const code = known ? (error as RpcError).code : "internal";
      // One reset ends both halves: the caller stops sending too, and its late frames are dropped.
      const body = known
        ? this.#resetBody((error as RpcError).message, (error as RpcError).details)
        : this.#exposeErrors
        ? this.#resetBody(String((error as Error)?.message ?? error), { stack: (error as Error)?.stack })
        : this.#resetBody("internal error", undefined);
      this.#writer.write(request.id, Flags.StreamRst, resetReasonOf(code), body);
      request.finished = true;
      if (request.isStream && !request.stream.senderDone) {
        this.#rememberReset(request.id);
        request.stream.cancel();
      }
      this.#report(error);
    }
    this.#settle(request);
  }

  /** The handler's side is done: free its slot, and the blocking queue if it held it. */
  #settle(request: IncomingRequest): void {
    if (!request.finished) {
      request.finished = true;
      // The caller is still streaming to a handler that has finished: tell it to stop.
      // (Only now, after the reply: a reset sent earlier would fail the caller's call.)
      if (request.isStream && !request.stream.senderDone) this.#stopReading(request);
    }
    this.#untrack(request);
    if (!request.isConcurrent) {
      this.#blockingBusy = false;
      this.#pumpBlocking();
    }
    this.#checkDrained();
  }

  /** Stops the caller's half of a request stream with a reset; its late frames are dropped. */
  #stopReading(request: IncomingRequest): void {
    this.#writer.write(request.id, Flags.StreamRst, resetReasonOf("cancelled"), EMPTY);
    this.#rememberReset(request.id);
    request.stream.cancel();
  }

  #refuse(id: RequestId, code: ErrorCode, streamOpen: boolean, message?: string): void {
    const body = message === undefined ? EMPTY : this.#resetBody(message, undefined);
    this.#writer.write(id, Flags.StreamRst, resetReasonOf(code), body);
    if (streamOpen) this.#rememberReset(id);
  }

  /**
   * A reset's body: the error's words for a weft peer, nothing for plain qrpc (its resets
   * are empty). Sent as soon as the peer has shown weft, before the version is settled:
   * HELLO always reaches a client before any reply, and the body's format is the same in
   * every version.
   */
  #resetBody(message: string, details: unknown): Uint8Array {
    return this.#weftPeer ? encodeResetBody(message, details) : EMPTY;
  }

  #rememberReset(id: RequestId): void {
    if (this.#recentlyReset.size >= RESET_MEMORY) {
      this.#recentlyReset.delete(this.#recentlyReset.values().next().value!);
    }
    this.#recentlyReset.add(id);
  }

  // ---- weft extensions (control.ts) -------------------------------------------------

  /**
   * Server with `authenticate`: nothing runs before the client's metadata is accepted.
   * A client that shows weft gets HELLO and its frames wait (no round trip on its side:
   * it sent them already); one that does not is plain qrpc and cannot authenticate.
   */
  #hold(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    const weftBits = flags & WEFT_BITS;
    if (weftBits !== 0 && this.#version === 0) {
      this.#greet(); // the client's hello
      if (weftBits === WEFT_BITS) (this.#awaitingExt ??= new Set()).add(id);
      flags &= ~WEFT_BITS; // greeted: what is left is an ordinary frame (until its EXT comes)
    }
    if (!this.#weftPeer) {
      if ((flags & (Flags.Push | Flags.StreamRst)) === 0) this.#refuse(id, "unauthenticated", false);
      return;
    }
    const held = this.#held!;
    if (held.length >= HOLD_LIMIT) {
      return this.#refuseConnection("resource_exhausted", `more than ${HOLD_LIMIT} frames held before the handshake completed`);
    }
    held.push([id, flags, cmd, payload]);
  }

  /** EXT: the block of a call the client sent before the handshake; the held call takes it. */
  #receiveDeferredExtensions(id: RequestId, block: Uint8Array): void {
    if (this.#awaitingExt?.delete(id) !== true) return;
    const entry = this.#held?.find((frame) => frame[0] === id);
    if (entry !== undefined) {
      const joined = new Uint8Array(block.length + entry[3].length);
      joined.set(block);
      joined.set(entry[3], block.length);
      entry[1] |= WeftFlags.Extended;
      entry[3] = joined;
    }
    this.#maybeRelease();
  }

  /** Lets the held frames go once nothing holds them: authentication and EXT frames. */
  #maybeRelease(): void {
    if (this.#held !== null && !this.#authPending && (this.#awaitingExt?.size ?? 0) === 0) this.#release();
  }

  /** Releases the held frames, in arrival order. */
  #release(): void {
    const held = this.#held;
    this.#held = null;
    for (const [id, flags, cmd, payload] of held ?? []) this.#dispatch(id, flags, cmd, payload);
  }

  /** Tells a weft peer why it is refused (ERROR), then closes once that frame is out. */
  #refuseConnection(code: ErrorCode, message: string): void {
    if (this.#state === CLOSED) return;
    const error = new RpcError(code, message);
    this.#held = null;
    this.#sendControl(Op.Error, encodeControl({ code, message } satisfies ErrorMessage));
    this.#state = CLOSING;
    this.#writer.close().finally(() => this.#shutDown(new RpcError(code, `connection refused: ${message}`), error));
    this.#report(error);
  }

  /** Server: a client showed it speaks weft; offer it the extensions, once. */
  #greet(): void {
    if (!this.#weft || this.#weftPeer || this.#state === CLOSED) return;
    this.#weftPeer = true;
    // HELLO goes out before anything else, so the client reads our blocks from here on.
    this.#extended = true;
    const hello: HelloMessage = {
      versions: [...PROTOCOL_VERSIONS],
      heartbeat: this.#heartbeatOption,
      maxFrameSize: this.maxFrameSize,
      window: this.#streamHighWaterMark,
      maxMetadataSize: this.#maxMetadataSize,
      codecs: [...this.#codecsAccepted],
      compression: this.#compressionOption === false ? [] : [...COMPRESSION_FORMATS],
      checksum: this.#checksumOption === false ? [] : ["crc32"],
    };
    this.#sendControl(Op.Hello, encodeControl(hello));
  }

  #receiveControl(id: RequestId, op: number, payload: Uint8Array): void {
    try {
      switch (op) {
        case Op.WindowUpdate:
          return this.#receiveWindowUpdate(id, payload);
        case Op.Ext:
          return this.#receiveDeferredExtensions(id, payload);
        case Op.Hello:
          return this.#receiveHello(decodeControl<HelloMessage>(payload));
        case Op.Settings:
          return this.#receiveSettings(decodeControl<SettingsMessage>(payload));
        case Op.Ping:
          return this.#sendControl(Op.Pong, payload);
        case Op.Pong:
          return; // its arrival already counted as life
        case Op.GoAway:
          return this.#receiveGoAway(decodeControl<GoAwayMessage>(payload));
        case Op.Error:
          return this.#receiveError(decodeControl<ErrorMessage>(payload));
        default:
          return; // an opcode from a newer weft: ignored, as promised in PROTOCOL.md
      }
    } catch (error) {
      const problem = new ProtocolError(`malformed control frame (opcode ${op}): ${(error as Error).message}`);
      this.#report(problem);
      this.#writer.abort(problem);
      this.#shutDown(new RpcError("unavailable", `connection closed: ${problem.message}`, { cause: problem }), problem);
    }
  }

  /** Client: the server speaks weft. Take a version and the heartbeat, and say so. */
  #receiveHello(hello: HelloMessage): void {
    if (this.role !== "client" || !this.#weft || this.#version !== 0) return;
    this.#helloBit = 0;
    const version = Math.max(0, ...hello.versions.filter((v) => PROTOCOL_VERSIONS.includes(v)));
    if (version === 0) return; // no common version: stay plain qrpc
    if (Array.isArray(hello.codecs) && !hello.codecs.includes(this.#codecOption)) {
      const error = new RpcError(
        "unimplemented",
        `the server does not read codec "${this.#codecOption}" (it reads: ${hello.codecs.join(", ")})`,
      );
      this.#report(error);
      this.#writer.abort(error);
      return this.#shutDown(error, error);
    }
    this.#weftPeer = true;
    this.#extended = true;
    this.#version = version;
    this.#useWindows(Number(hello.window) || 0);
    const wanted = this.#compressionOption;
    const compression = wanted && Array.isArray(hello.compression) && hello.compression.includes(wanted) ? wanted : null;
    const checksum = this.#checksumOption === true && Array.isArray(hello.checksum) && hello.checksum.includes("crc32");
    const heartbeat = agreedInterval(this.#heartbeatOption, Number(hello.heartbeat) || 0);
    const settings: SettingsMessage = {
      version,
      heartbeat,
      maxFrameSize: this.maxFrameSize,
      metadata: this.#metadata,
      window: this.#streamHighWaterMark,
      maxMetadataSize: this.#maxMetadataSize,
      codec: this.#codecOption,
      compression,
      checksum: checksum ? "crc32" : null,
    };
    this.#sendControl(Op.Settings, encodeControl(settings));
    // From SETTINGS on, both ends compress and checksum as agreed.
    this.#useTransforms(compression, checksum);
    // Calls sent before the handshake wait on the server for their blocks: here they are.
    const deferred = this.#deferredExt;
    this.#deferredExt = null;
    if (deferred !== null) for (const [id, block] of deferred) this.#writer.write(id, WeftFlags.Control, Op.Ext, block);
    this.#startHeartbeat(heartbeat);
  }

  /** Server: a codec, compression format or checksum it does not offer refuses the connection. */
  #refusedSettings(settings: SettingsMessage): [ErrorCode, string] | null {
    if (settings.codec !== undefined && !this.#codecsAccepted.includes(String(settings.codec))) {
      return ["unimplemented", `unknown codec "${settings.codec}" (this server reads: ${this.#codecsAccepted.join(", ")})`];
    }
    const compression = settings.compression;
    if (compression !== undefined && compression !== null) {
      if (this.#compressionOption === false || !COMPRESSION_FORMATS.includes(String(compression))) {
        return ["unimplemented", `compression "${compression}" is not offered by this server`];
      }
    }
    const checksum = settings.checksum;
    if (checksum !== undefined && checksum !== null && (checksum !== "crc32" || this.#checksumOption === false)) {
      return ["unimplemented", `checksum "${checksum}" is not offered by this server`];
    }
    return null;
  }

  #useTransforms(compression: CompressionFormat | null, checksum: boolean): void {
    this.#compression = compression;
    this.#checksum = checksum;
    this.#transforming = compression !== null || checksum;
  }

  /** Client: a reply came before any HELLO, so the server speaks plain qrpc. */
  #peerIsPlain(): void {
    this.#helloBit = 0;
    this.#deferredExt = null;
  }

  /** Flow control is on when both ends announced a receive window. */
  #useWindows(peerWindow: number): void {
    this.#peerWindow = peerWindow;
    this.#flowControl = peerWindow > 0 && this.#streamHighWaterMark > 0;
  }

  /** WINDOW_UPDATE: the peer read this many bytes of one of our streams. */
  #receiveWindowUpdate(id: RequestId, payload: Uint8Array): void {
    if (payload.length !== 4) throw new TypeError(`WINDOW_UPDATE payload must be 4 bytes, got ${payload.length}`);
    const bytes = readUint32(payload, 0);
    if (isOddId(id) === this.#oddIdsAreOurs) this.#calls.get(id)?.grant(bytes);
    else this.#incoming.get(id)?.sendCredit?.grant(bytes);
  }

  /** Server: the client took these settings; the extensions are on. */
  #receiveSettings(settings: SettingsMessage): void {
    if (this.role !== "server" || !this.#weftPeer || this.#version !== 0) return;
    if (!PROTOCOL_VERSIONS.includes(settings.version)) throw new TypeError(`unknown version ${settings.version}`);
    const refusal = this.#refusedSettings(settings);
    if (refusal !== null) return this.#refuseConnection(refusal[0], refusal[1]);
    this.#version = settings.version;
    this.#useWindows(Number(settings.window) || 0);
    if (typeof settings.codec === "string") this.#codecOption = settings.codec;
    this.#useTransforms((settings.compression as CompressionFormat | null | undefined) ?? null, settings.checksum === "crc32");
    this.#peerMetadata = Object.freeze(stringRecord(settings.metadata));
    this.#startHeartbeat(agreedInterval(this.#heartbeatOption, Number(settings.heartbeat) || 0));
    const authenticate = this.#authenticate;
    if (authenticate === undefined) return;
    Promise.resolve()
      .then(() => authenticate(this.#peerMetadata, this))
      .then(() => {
        this.#authPending = false;
        this.#maybeRelease();
      }, (error) => {
        const code = error instanceof RpcError ? error.code : "unauthenticated";
        const message = error instanceof RpcError ? error.message : "authentication failed";
        this.#refuseConnection(code, message);
      });
  }

  /** Client: the server refused this connection; everything here fails with its reason. */
  #receiveError(message: ErrorMessage): void {
    const code = (ErrorCodes as readonly string[]).includes(message.code) ? message.code as ErrorCode : "unknown";
    const error = new RpcError(code, `the server refused the connection: ${String(message.message)}`);
    this.#report(error);
    this.#writer.abort(error);
    this.#shutDown(error, error);
  }

  #receiveGoAway(message: GoAwayMessage): void {
    if (this.#peerGoingAway !== null) return;
    this.#peerGoingAway = String(message.reason ?? "going away");
    try {
      this.#onGoAway?.(this.#peerGoingAway, this);
    } catch (error) {
      this.#report(error);
    }
  }

  /**
   * Pings every interval; a peer silent for three intervals is presumed dead (a half-open
   * TCP connection never says so itself) and the connection fails with `unavailable`.
   */
  #startHeartbeat(intervalMs: number): void {
    if (intervalMs <= 0 || this.#state === CLOSED) return;
    this.#heartbeatMs = intervalMs;
    this.#lastReceived = performance.now();
    this.#heartbeatTimer = setInterval(() => {
      const silentFor = performance.now() - this.#lastReceived;
      if (silentFor > 3 * intervalMs) {
        this.destroy(new Error(`no frame from the peer for ${Math.round(silentFor)} ms (heartbeat every ${intervalMs} ms)`));
        return;
      }
      this.#sendControl(Op.Ping, EMPTY);
    }, intervalMs);
  }

  #sendControl(op: number, payload: Uint8Array): void {
    if (this.#state !== CLOSED) this.#writer.write(0, WeftFlags.Control, op, payload);
  }

  /**
   * Writes a request: with its block to a weft peer; before the handshake, a call with
   * metadata is marked (0x40 and 0x80) and its block follows in EXT once the server
   * greets (a plain qrpc server ignores both bits and never greets).
   */
  #writeCall(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    if (this.#extended) return this.#sendFrame(id, flags, cmd, payload, ext);
    // Before the handshake the server knows neither the call's metadata nor what SETTINGS
    // will say: it holds such a call until its block follows SETTINGS (§13).
    if (this.#helloBit !== 0 && (this.#deferFirstFlight || hasMetadata(ext?.metadata))) {
      (this.#deferredExt ??= new Map()).set(id, encodeExtensions({ metadata: ext?.metadata, timeout: ext?.timeout }));
      flags |= WeftFlags.Control;
    }
    this.#sendFrame(id, flags, cmd, payload, undefined);
  }

  /**
   * Every call frame (request, reply, stream frame, push) leaves through here: with its
   * block when it has one and the peer reads blocks, compressed and checksummed when agreed.
   */
  #sendFrame(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    if (this.#transforming) return this.#sendTransformed(id, flags, cmd, payload, ext);
    if (ext !== undefined && this.#extended && hasExtensions(ext)) {
      this.#writer.writeWithPrefix(id, flags | WeftFlags.Extended, cmd, encodeExtensions(ext), payload);
    } else {
      this.#writer.write(id, flags, cmd, payload);
    }
  }

  #sendTransformed(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    const format = this.#compression;
    if (format === null || payload.length < this.#compressionThreshold) {
      const made = this.#finishFrame(flags, payload, ext);
      if (made.prefix === null) this.#writer.write(id, made.flags, cmd, made.payload);
      else this.#writer.writeWithPrefix(id, made.flags, cmd, made.prefix, made.payload);
      return;
    }
    // Compression is asynchronous: the writer holds the frames after this one until it is done.
    const made = compress(payload, format).then(
      (packed) => packed.length < payload.length
        ? this.#finishFrame(flags | Flags.Codec, packed, ext)
        : this.#finishFrame(flags, payload, ext), // it would not shrink: sent as it is (qrpc's rule)
      () => this.#finishFrame(flags, payload, ext),
    );
    this.#writer.writeLater(id, cmd, made);
  }

  /** A frame's final flags, block and payload: the checksum covers the payload as sent. */
  #finishFrame(flags: number, payload: Uint8Array, ext: Extensions | undefined): LaterFrame {
    if (this.#checksum) ext = { ...ext, checksum: crc32(payload) };
    if (ext === undefined || !hasExtensions(ext)) return { flags, prefix: null, payload };
    return { flags: flags | WeftFlags.Extended, prefix: encodeExtensions(ext), payload };
  }

  // ---- calling ---------------------------------------------------------------------

  /** Why a new call cannot start, as a rejected promise; null when it can. */
  /** Checks a new call (and its one payload, if given) and numbers it; throws when it cannot start. */
  #newCallId(cmd: number, options: CallOptions | undefined, payload?: Uint8Array): RequestId {
    this.#checkCmd(cmd);
    if (payload !== undefined) this.#checkPayload(payload);
    if (options?.metadata !== undefined) checkMetadata(options.metadata);
    if (options?.timeout !== undefined) {
      const problem = durationProblem("timeout", options.timeout);
      if (problem !== null) throw new RpcError("invalid_argument", problem);
    }
    const refused = this.#refuseCall(cmd, options);
    if (refused !== null) throw refused;
    const id = this.#nextId;
    this.#nextId += 2;
    return id;
  }

  /** Why a new call cannot start now, or null when it can. */
  #refuseCall(cmd: number, options: CallOptions | undefined): RpcError | null {
    if (this.#peerGoingAway !== null && this.#state === OPEN) {
      return new RpcError("unavailable", `the peer is going away (${this.#peerGoingAway}): no new calls`);
    }
    if (this.#state !== OPEN) {
      return this.#state === CLOSING
        ? new RpcError("unavailable", "connection is closing: no new calls")
        : this.#closeError ?? new RpcError("unavailable", "connection is closed");
    }
    if (options?.signal?.aborted) {
      return new RpcError("cancelled", `call to cmd ${cmd} was cancelled before it started`, {
        cause: options.signal.reason,
      });
    }
    return null;
  }

  #makeCallHost(): CallHost {
    // qrpc clients accept a server-initiated request only if it is NonBlock.
    const roleFlags = this.role === "server" ? Flags.NonBlock : 0;
    const connection = this;
    return {
      get baseFlags() {
        return roleFlags | connection.#helloBit;
      },
      write: (id, flags, cmd, payload, ext) => {
        if (this.#state === CLOSED) return;
        if (ext === undefined) this.#sendFrame(id, flags, cmd, payload, undefined);
        else this.#writeCall(id, flags, cmd, payload, ext);
      },
      writable: async () => {
        if (this.#state === CLOSED) throw this.#closeError;
        if (this.#writer.backpressured) await this.#writer.ready;
      },
      reset: (id, code) => {
        if (this.#state !== CLOSED) this.#writer.write(id, Flags.StreamRst, code, EMPTY);
      },
      forget: (id) => {
        this.#calls.delete(id);
        this.#checkDrained();
      },
      checkPayload: (payload) => this.#checkPayload(payload),
      newStream: (id, flowControlled) => this.#newStream(id, flowControlled),
      sendCredit: () => this.#newSendCredit(),
    };
  }

  #checkCmd(cmd: number): void {
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > MAX_CMD) {
      throw new RpcError("invalid_argument", `cmd must be an integer in 0..${MAX_CMD}, got ${cmd}`);
    }
  }

  #checkPayload(payload: Uint8Array): void {
    if (!(payload instanceof Uint8Array)) {
      throw new RpcError("invalid_argument", `payload must be a Uint8Array, got ${typeof payload}`);
    }
    if (payload.length + 12 > this.maxFrameSize) {
      throw new RpcError(
        "invalid_argument",
        `payload of ${payload.length} bytes exceeds the frame limit of ${this.maxFrameSize} bytes`,
      );
    }
  }

  // ---- backpressure on receive streams ---------------------------------------------

  /**
   * A receive stream. Flow-controlled when its sender marked it so: the sender keeps to
   * our window, we grant read bytes back, and the read loop never waits for it. Otherwise
   * (a plain qrpc peer) it holds the read loop while over its high-water mark.
   */
  #newStream(id: RequestId, flowControlled: boolean): MessageStream {
    const stream = new MessageStream(this.#streamHighWaterMark, this.#onPressure);
    // The sender marks a stream only when it holds our window, so the mark alone decides.
    if (flowControlled && this.#streamHighWaterMark > 0) {
      const window = this.#streamHighWaterMark;
      stream.useFlowControl(
        window,
        window + this.maxFrameSize + 2 * FRAME_OVERHEAD,
        (bytes) => this.#grantCredit(id, bytes),
        () => this.#windowOverrun(id),
      );
    }
    return stream;
  }

  /** Credit for a stream this side opens or replies on, when both ends do flow control. */
  #newSendCredit(): SendCredit | null {
    return this.#flowControl ? new SendCredit(this.#peerWindow) : null;
  }

  #grantCredit(id: RequestId, bytes: number): void {
    if (this.#state === CLOSED) return;
    this.#writer.write(id, WeftFlags.Control, Op.WindowUpdate, uint32Bytes(Math.min(bytes, 0xffffffff)));
  }

  /** The peer sent past its window on one stream: that stream fails, nothing else. */
  #windowOverrun(id: RequestId): RpcError {
    const error = new RpcError("resource_exhausted", `the peer sent past the flow-control window on stream ${id}`);
    this.#failExchange(id, Flags.Stream, error);
    return error;
  }

  /** A stream over its high-water mark holds the read loop until it drains: qrpc's model. */
  readonly #onPressure = (overfull: boolean): void => {
    if (overfull) {
      if (this.#overfull++ === 0) this.#readGate = new Promise((resolve) => (this.#openReadGate = resolve));
    } else if (--this.#overfull === 0) {
      this.#readGate = null;
      this.#openReadGate?.();
    }
  };

  // ---- closing ---------------------------------------------------------------------

  #checkDrained(): void {
    if (this.#drained !== null && this.#calls.size === 0 && this.#incoming.size === 0) {
      this.#drained();
      this.#drained = null;
    }
  }

  #transportFailed(error: unknown): void {
    if (this.#state === CLOSED) return;
    this.#peerGone(new RpcError("unavailable", `write failed: ${(error as Error)?.message ?? error}`, { cause: error }));
  }

  /** Fails everything still in flight with `error` and releases the transport. */
  #shutDown(error: RpcError, cause: Error | undefined): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#closeError = error;
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    const calls = [...this.#calls.values()];
    const requests = [...this.#incoming.values()];
    this.#calls.clear();
    this.#incoming.clear();
    this.#blockingQueue = [];
    this.#blockingHead = 0;
    for (const call of calls) call.onClose(error);
    for (const request of requests) request.abort(error);
    this.#overfull = 0;
    this.#readGate = null;
    this.#openReadGate?.();
    this.#reader?.cancel(error).catch(() => {});
    this.#drained?.();
    this.#resolveClosed(cause);
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(error, this);
    } catch {
      // An error hook that throws must not take the connection down with it.
    }
  }

  /**
   * Hands `onError` a failure that belongs to no call: for layers above the engine (a typed
   * event the peer sent malformed is dropped and reported here). A throwing hook is ignored.
   */
  reportError(error: unknown): void {
    this.#report(error);
  }
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, "0");
}
