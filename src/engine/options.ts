/**
 * What a connection can be told when it is made (ConnectionOptions), and when it is closed.
 * Both ends take the same options; a few only mean something on one side (marked).
 */
import type { CompressionFormat } from "../wire/compression.ts";
import type { Connection, Mux, Role } from "./api.ts";
import type { Hooks } from "./hooks.ts";
import type { RateLimitOptions } from "./rate_limit.ts";
import type { Transport } from "./transport.ts";

export type { CloseOptions, Role } from "./api.ts";

/** What `new Connection(...)` takes: a transport, which end this is, and the options. */
export interface ConnectionConstructor {
  new (transport: Transport, role: Role, options?: ConnectionOptions): Connection;
}

export interface ConnectionOptions extends RateLimitOptions {
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
   * Reuse the memory of large payloads (default false). A plain request or reply of 256 KiB
   * or more that arrives in pieces is assembled into a buffer from a process-wide pool, and
   * lent: a handler's `request.payload` until the handler is done and its reply has left
   * (a reply stream: until it ends); a caller's `response.payload` until
   * `response.release()`. After that the bytes are overwritten by a later payload: copy
   * (`payload.slice()`) what you keep, binary values a codec decoded from it included. A
   * payload never released is collected as usual. It saves the allocation and page faults
   * of a new buffer per large payload (bench/stream.ts, its 1 MiB echo).
   */
  lendPayloads?: boolean;
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
  /**
   * Client: greet a weft server as soon as the connection opens, not with the first call,
   * so heartbeats (and `authenticate`) run from the start and a server that vanishes before
   * any call is noticed. Only for a server known to speak weft: the greeting is a frame a
   * plain qrpc server reads as a call to a cmd it lacks, and it closes the connection.
   */
  greetEagerly?: boolean;
  /**
   * Who this end is, sent once in the handshake to a weft peer (its `connection.peerAgent`,
   * for debug pages and logs). Default `weft/<version> <runtime>/<version>`; false sends none.
   */
  agent?: string | false;
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
  /** Where calls and connections start and end, for instrumentation (see hooks.ts). */
  hooks?: Hooks;
  /**
   * Server: replies (and other frames) written but not yet taken by the peer, in bytes, past
   * which the connection stops reading its requests until half of them are gone (default
   * 4 MiB). A client that sends and never reads holds this much of the server's memory, not
   * more; as HTTP/2 servers do. While it waits, each write the peer takes counts as a sign of
   * life for the heartbeat.
   */
  maxUnsentBytes?: number;
  /**
   * Server: milliseconds a client has to complete weft's handshake once it shows weft
   * (SETTINGS after our HELLO), and, with `authenticate`, to be admitted at all from the
   * moment it connects (default 10000). A client that shows weft but never sends SETTINGS is
   * taken for a plain qrpc client when it runs out: the calls it held are served as plain
   * qrpc. With `authenticate`, the connection is refused instead.
   */
  handshakeTimeout?: number;
}

/** Default `maxUnsentBytes`: what a server holds for a client that does not read. */
const DEFAULT_MAX_UNSENT = 4 * 1024 * 1024;

/** A server's `maxUnsentBytes`: the default, or a positive number (else a TypeError). */
export function maxUnsentBytes(options: ConnectionOptions): number {
  const value = options.maxUnsentBytes ?? DEFAULT_MAX_UNSENT;
  if (!(value > 0)) throw new TypeError(`maxUnsentBytes must be a positive number of bytes, got ${value}`);
  return value;
}
