/**
 * The engine's public face: what a connection, a request and a mux are to the code that uses
 * them (applications, the typed layer, adapters, hooks). The classes behind them (connection.ts,
 * served_request.ts, mux.ts) implement these and add the engine's own bookkeeping.
 *
 * They live in one module because they name each other: a connection has a mux, a mux routes
 * to handlers, a handler gets a request, a request knows its connection. Declared here, none of
 * the engine's files needs to import the class that composes it (no import cycle), as nats.js
 * keeps `NatsConnection` apart from its implementation.
 */
import type { CompressionFormat } from "../wire/compression.ts";
import type { Metadata } from "../wire/extensions.ts";
import type { RequestId } from "../wire/frame.ts";
import type { Call, CallOptions, PendingCall } from "./call.ts";
import type { MessageStream } from "./message_stream.ts";
import type { Response } from "./response.ts";

/** Which end of the connection this is: it decides id parity and flags of outgoing requests. */
export type Role = "client" | "server";

export interface CloseOptions {
  /** Milliseconds to let in-flight calls finish before the rest are failed. Default 5000. */
  timeout?: number;
}

/**
 * One end of a weft/qrpc connection. Both roles run the same engine: each side can call the
 * other, stream both ways, and push; the role only sets id parity (client ids odd, server ids
 * even) and makes a server's requests NonBlock, as qrpc clients require.
 */
/** What a connection's streams did so far (`connection.streams`). */
export interface StreamCounts {
  /** Calls and requests in flight now with a stream either way. */
  open: number;
  /** Frames read and written that belong to streams (either stream bit set). */
  framesRead: number;
  framesWritten: number;
  /** Flow-control stalls: times a send waited for the peer's window (weft peers). */
  creditWaits: number;
  /** Times reading stopped because a stream was over its high-water mark (plain qrpc peers). */
  readPauses: number;
}

export interface Connection {
  readonly role: Role;
  /** Handlers for the peer's requests and pushes (a server's connections share the server's). */
  readonly mux: Mux;
  /** Resolves when the connection is closed: with the error that closed it, if any. */
  readonly closed: Promise<Error | undefined>;
  /** Largest frame accepted and sent (its length field, header bytes after it included). */
  readonly maxFrameSize: number;
  /** Peer address, as the transport reports it. */
  readonly remoteAddress: string | undefined;
  /** True until close() starts or the connection fails. */
  readonly isOpen: boolean;
  /** The metadata the peer sent in the handshake (a server reads its client's here). */
  readonly peerMetadata: Readonly<Record<string, string>>;
  /** The payload codec of this connection: this end's option, or (server) the client's. */
  readonly codec: string;
  /** The compression format agreed with the peer, or null. */
  readonly compression: CompressionFormat | null;
  /** True once both ends agreed to checksum every call frame. */
  readonly checksummed: boolean;
  /** The weft protocol version agreed with the peer; 0 while (or if) it speaks plain qrpc. */
  readonly protocolVersion: number;
  /**
   * True once the peer showed it speaks weft: a client's greeting, a server's HELLO. From then
   * on metadata and weft's other blocks reach it, even before a version is agreed.
   */
  readonly peerSpeaksWeft: boolean;
  /** Calls this side is waiting on, and requests from the peer being handled. */
  readonly inFlight: { calls: number; requests: number };
  /** Bytes written to this connection that the peer has not taken yet (its backlog). */
  readonly unsentBytes: number;
  /** Bytes read from the peer so far, and bytes of the frames written to it (for instrumentation). */
  readonly bytes: { read: number; written: number };
  /** Stream frames each way and flow-control stalls so far (for instrumentation). */
  readonly streams: StreamCounts;
  /**
   * The peer's software and runtime as it announced them in the handshake ("weft/0.2.0
   * Bun/1.3.1"); null before the handshake, from a plain qrpc peer, or one that sent none.
   */
  readonly peerAgent: string | null;
  /**
   * Resolves once at most `bytes` written to this connection are not yet taken by the peer,
   * or the connection is closed: for a producer that must not run ahead of a slow reader.
   */
  drained(bytes: number): Promise<void>;
  /** Serves `cmd` on this connection's mux (shared by all of a server's connections). */
  handle(cmd: number, handler: Handler): this;
  /** Receives the peer's pushes (on this connection's mux). */
  onPush(handler: PushHandler | null): this;
  /**
   * Sends a request and resolves with the reply. A streamed reply resolves on its first
   * frame; walk `response` (or `response.stream`) with `for await` for the rest.
   */
  request(cmd: number, payload?: Uint8Array, options?: CallOptions): Promise<Response>;
  /**
   * Sends a request like `request`, and returns the call itself: its `response`, and
   * `cancel()` to reset it before or while the reply streams. Throws (rather than
   * rejecting) when the call cannot start.
   */
  open(cmd: number, payload?: Uint8Array, options?: CallOptions): PendingCall;
  /**
   * Opens a streaming call: the request stream starts with the first `send` (or `end`),
   * the reply arrives on `call.response` or by walking `call` with `for await`.
   */
  call(cmd: number, options?: CallOptions): Call;
  /** Pushes a frame to the peer: no reply, no state. */
  push(cmd: number, payload?: Uint8Array): void;
  /**
   * Closes gracefully: no new calls either way, in-flight ones get `timeout` ms to finish,
   * then the connection closes and whatever is left fails with `unavailable`.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Closes at once: pending calls fail with `unavailable`, handlers' signals abort. */
  destroy(error?: Error): void;
  /**
   * Hands `onError` a failure that belongs to no call: for layers above the engine (a typed
   * event the peer sent malformed is dropped and reported here). A throwing hook is ignored.
   */
  reportError(error: unknown): void;
}

/**
 * A request the peer sent, as its handler sees it.
 *
 * For a streaming request, `stream` yields every payload the caller sends, the first frame's
 * included, until the caller ends its half. For a plain request it yields `payload` once, so
 * a handler can treat both alike.
 */
export interface IncomingRequest {
  /** The connection it came on: call the peer back, or push to it. */
  readonly connection: Connection;
  readonly id: RequestId;
  /** The full 24-bit cmd; the mux routed on its low 16 bits. */
  readonly cmd: number;
  readonly flags: number;
  /** The first frame's payload. */
  readonly payload: Uint8Array;
  /** The caller's metadata (empty from a plain qrpc peer). */
  readonly metadata: Readonly<Metadata>;
  /** When the caller stops waiting (ms since the epoch, this host's clock), if it said. */
  readonly deadline: number | undefined;
  /** Metadata sent with the first reply frame: set entries before replying. (Only to a weft peer.) */
  readonly replyMetadata: Metadata;
  /** Metadata sent with the last reply frame: set entries before the reply ends. (Only to a weft peer.) */
  readonly trailers: Metadata;
  /** True when the caller opened a stream (its frames carry Stream or StreamEnd). */
  readonly isStream: boolean;
  /** True when the caller let this request run concurrently with others (NonBlock, or a stream). */
  readonly isConcurrent: boolean;
  /** The request's payloads: the caller's stream, or `payload` alone. */
  readonly stream: MessageStream;
  /** Aborts when the caller cancels (reset) or the connection goes away. */
  readonly signal: AbortSignal;
}

/** What a handler may return. */
export type HandlerResult =
  | Uint8Array // one reply frame, with the request's cmd
  | Reply // one reply frame or a reply stream, with a cmd of the handler's choosing
  | AsyncIterable<Uint8Array> // a reply stream (an async generator handler lands here)
  | ReadableStream<Uint8Array> // a reply stream
  | void; // an empty reply

/** A reply with an explicit cmd (qrpc handlers often answer cmd N with cmd N+1). */
export type Reply =
  | { cmd?: number; payload: Uint8Array }
  | { cmd?: number; stream: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> };

/** Serves one cmd. Runs inline (blocking) or concurrently (NonBlock, streams); see the README. */
export type Handler = (request: IncomingRequest) => HandlerResult | Promise<HandlerResult>;

/** A frame pushed by the peer: no reply is expected. */
export interface PushMessage {
  readonly cmd: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly connection: Connection;
}

export type PushHandler = (message: PushMessage) => void;

/**
 * Handlers by cmd: qrpc's ServeMux. A server's connections share the server's mux; a
 * client connection has its own, for the calls its server makes to it.
 */
export interface Mux {
  /** Serves `cmd` (0..65535) with `handler`, replacing any earlier handler for it. */
  handle(cmd: number, handler: Handler): this;
  /** The handler that serves a frame's cmd, if any. */
  lookup(cmd: number): Handler | undefined;
  /** The cmds served, in ascending order. */
  readonly cmds: number[];
  /** Receives every frame the peer pushes. */
  onPush(handler: PushHandler | null): this;
  readonly pushHandler: PushHandler | null;
}
