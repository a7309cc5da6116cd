/**
 * weft over WebSocket, as qrpc's bridge carries it: the same byte stream in binary
 * messages, exactly one frame per message sent, and any split of frames across the
 * messages received (the engine's FrameDecoder reassembles them).
 *
 * This file knows nothing of any runtime: a WebSocket is reached through `MessageSocket`,
 * which the client (a Web-standard WebSocket) and each server integration provide.
 */
import type { ByteReader, ByteReadResult, ByteSink, ByteSource, ByteWriter } from "../common/byte_streams.ts";
import { ChunkQueue } from "../common/chunk_queue.ts";
import { ProtocolError, RpcError } from "../common/errors.ts";
import { FrameSplitter } from "../wire/frame_splitter.ts";
import type { Transport } from "../engine/transport.ts";

/** The few things weft needs from a WebSocket, whatever made it. */
export interface MessageSocket {
  /** Sends one binary message. False: the socket has gone and the message was dropped. */
  send(message: Uint8Array): boolean;
  /** Bytes accepted by `send` but not yet handed to the network. */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
  /** Runs `sends` so that the messages it sends leave in as few writes as the socket can. */
  cork?(sends: () => void): void;
}

export interface WebSocketTransportOptions {
  /**
   * Bytes the socket may hold unsent before weft stops writing to it (default 1 MiB).
   * This bounds the memory a slow peer can make its server hold for it.
   */
  highWaterMark?: number;
  /** For logs and errors. */
  remoteAddress?: string;
}

export const DEFAULT_WEBSOCKET_HIGH_WATER_MARK: number = 1024 * 1024;
/** Close codes (RFC 6455 §7.4.1). */
export const CloseCodes = {
  normal: 1000,
  protocolError: 1002,
  unsupportedData: 1003,
  internalError: 1011,
} as const;
/** Close codes that mean the peer ended on purpose, not that the connection was lost. */
const CLEAN_CLOSE_CODES = new Set([1000, 1001, 1005]);
/** Longest polling step while waiting for a socket to drain; the first step is 1 ms. */
const MAX_DRAIN_POLL_MS = 16;
/** Messages of one turn are joined into one chunk up to this many bytes in all (a copy). */
const MAX_COALESCED_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);
const RESOLVED: Promise<void> = Promise.resolve();
/** The longest a graceful close waits for the peer to answer its close frame. */
const CLOSE_WAIT_MS = 1000;

/**
 * When the messages received so far reach the engine: once the runtime has run its current
 * batch of I/O callbacks (setImmediate, where there is one), else at the end of the microtask
 * checkpoint. Bun and Deno deliver each message in a task of its own, so a microtask hands the
 * engine one message at a time and every reply leaves in a write of its own; after the I/O
 * callbacks, the messages of one network read arrive together and their replies leave together
 * (at 64 calls in flight, 1.4x the calls/s on both; Node's `ws` already delivers them together).
 */
const afterIo: (run: () => void) => void = (() => {
  const setImmediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate;
  return typeof setImmediate === "function" ? (run) => void setImmediate(run) : queueMicrotask;
})();

/** A close reason is at most 123 bytes; keep well inside it. */
const MAX_REASON_LENGTH = 100;

/** What a text message gets: the bridge is binary only. */
export const TEXT_MESSAGE_REASON = "weft: text messages are not supported, send binary frames";

/**
 * A WebSocket as the core's Transport. Its owner feeds it the socket's events
 * (`receive`, `closed`, `failed`, and `drained` where the socket has a drain event).
 * It is also the engine's reader and writer (common/byte_streams.ts): no Web Streams.
 */
export class WebSocketTransport implements Transport, ByteSource, ByteSink, ByteReader, ByteWriter {
  readonly readable: ByteSource = this;
  readonly writable: ByteSink = this;
  readonly remoteAddress?: string;
  readonly #socket: MessageSocket;
  readonly #highWaterMark: number;
  readonly #splitter: FrameSplitter;
  readonly #sendFrame = (frame: Uint8Array) => {
    if (!this.#socket.send(frame)) throw new RpcError("unavailable", "websocket closed");
  };
  /** The chunk `#pushChunk` sends: one bound function for every corked write, not a closure each. */
  #chunk: Uint8Array = EMPTY;
  readonly #pushChunk = () => this.#splitter.push(this.#chunk);
  readonly #reads = new ChunkQueue();
  #closed = false;
  /** Messages that arrived behind a Blob still being read, to keep their order. */
  #blobs: Promise<void> | null = null;
  /** Messages received in this tick, not yet handed to the engine. */
  #inbox: Uint8Array[] = [];
  #inboxBytes = 0;
  readonly #deliver = () => this.#flushInbox();
  /** While the socket holds more than the high-water mark: what waits for it to drain. */
  #drain: Promise<void> | null = null;
  #drained: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  /** Told when the socket's close event comes (a graceful close waits for it). */
  #closeSeen: (() => void) | null = null;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: MessageSocket, options: WebSocketTransportOptions = {}) {
    this.#socket = socket;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_WEBSOCKET_HIGH_WATER_MARK;
    this.remoteAddress = options.remoteAddress;
    this.#splitter = new FrameSplitter(this.#sendFrame, Number.MAX_SAFE_INTEGER);
  }

  getReader(): ByteReader {
    return this;
  }

  getWriter(): ByteWriter {
    return this;
  }

  read(): Promise<ByteReadResult> {
    return this.#reads.read();
  }

  cancel(): Promise<void> {
    this.#reads.end();
    this.#close(CloseCodes.normal, "");
    return RESOLVED;
  }

  /** As a Web Stream's writer with a high-water mark of one write. */
  get desiredSize(): number {
    return this.#drain === null ? 1 : 0;
  }

  get ready(): Promise<void> {
    return this.#drain ?? RESOLVED;
  }

  /** The close frame after everything written; resolves when the peer answers it (see #closeAndWait). */
  async close(): Promise<void> {
    if (this.#drain !== null) await this.#drain.catch(() => {});
    await this.#closeAndWait();
  }

  abort(reason?: unknown): Promise<void> {
    const code = reason instanceof ProtocolError ? CloseCodes.protocolError : CloseCodes.internalError;
    this.#close(code, reason instanceof Error ? reason.message : "");
    return RESOLVED;
  }

  /** A message arrived: binary data in any of the shapes runtimes deliver, or text. */
  receive(data: unknown): void {
    if (this.#reads.ended) return;
    if (this.#blobs !== null || isBlob(data)) {
      const previous = this.#blobs ?? Promise.resolve();
      const next: Promise<void> = previous
        .then(() => (isBlob(data) ? data.arrayBuffer() : data))
        .then((bytes) => {
          if (this.#blobs === next) this.#blobs = null;
          this.#accept(bytes);
        }, (error) => this.failed(error));
      this.#blobs = next;
      return;
    }
    this.#accept(data);
  }

  /** The socket closed, from either end. */
  closed(code = 1005, reason = ""): void {
    this.#closed = true;
    this.#closeSeen?.();
    this.#failDrain(new RpcError("unavailable", "websocket closed"));
    this.#flushInbox(); // what arrived before the close is read before the end
    if (CLEAN_CLOSE_CODES.has(code)) return this.#reads.end();
    const why = reason ? `: ${reason}` : "";
    this.#reads.fail(new RpcError("unavailable", `websocket closed with code ${code}${why}`));
  }

  /** The socket failed (its error event). */
  failed(error: unknown): void {
    this.#flushInbox();
    this.#failDrain(error);
    this.#close(CloseCodes.internalError, "");
    this.#reads.fail(error instanceof Error ? error : new RpcError("unavailable", "websocket error"));
  }

  /** The socket's buffer emptied (Bun's drain event); sockets without one are polled. */
  drained(): void {
    if (this.#drain === null || this.#socket.bufferedAmount() > this.#highWaterMark) return;
    clearTimeout(this.#drainTimer);
    const drained = this.#drained!;
    this.#drain = this.#drained = null;
    drained.resolve();
  }

  #accept(data: unknown): void {
    if (this.#reads.ended) return;
    if (typeof data === "string") {
      this.#refuse(TEXT_MESSAGE_REASON, "a text message arrived; the bridge carries binary messages only");
      return;
    }
    const bytes = toBytes(data);
    if (bytes === null) {
      this.#refuse("weft: unsupported message type", `unsupported message type: ${Object.prototype.toString.call(data)}`);
      return;
    }
    if (bytes.length === 0) return; // empty messages are ignored, as qrpc does
    // The messages of one turn reach the engine as one chunk at its end, as a TCP read would:
    // it then decodes and answers them in one turn, and its replies leave in one write.
    this.#inbox.push(bytes);
    this.#inboxBytes += bytes.length;
    if (this.#inbox.length === 1) afterIo(this.#deliver);
  }

  /** Hands the messages received so far to the engine: one chunk, or each as it is when big. */
  #flushInbox(): void {
    const inbox = this.#inbox;
    if (inbox.length === 0) return;
    const size = this.#inboxBytes;
    this.#inbox = [];
    this.#inboxBytes = 0;
    if (inbox.length === 1) {
      this.#reads.push(inbox[0]);
      return;
    }
    if (size > MAX_COALESCED_BYTES) {
      for (const bytes of inbox) this.#reads.push(bytes);
      return;
    }
    const joined = new Uint8Array(size);
    let at = 0;
    for (const bytes of inbox) {
      joined.set(bytes, at);
      at += bytes.length;
    }
    this.#reads.push(joined);
  }

  /** Fails the read side first (the engine reports why), then closes with 1003. */
  #refuse(reason: string, message: string): void {
    this.#flushInbox();
    this.#reads.fail(new ProtocolError(message));
    this.#close(CloseCodes.unsupportedData, reason);
  }

  /**
   * Sends the chunk's frames at once (a WebSocket buffers whatever it is given); settles when
   * the socket holds at most the high-water mark, so writes made meanwhile settle together.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new RpcError("unavailable", "websocket closed"));
    try {
      if (this.#socket.cork === undefined) this.#splitter.push(chunk);
      else {
        this.#chunk = chunk;
        this.#socket.cork(this.#pushChunk);
      }
    } catch (error) {
      return Promise.reject(error);
    } finally {
      this.#chunk = EMPTY; // hold no payload past its write
    }
    if (this.#drain !== null) return this.#drain;
    if (this.#socket.bufferedAmount() <= this.#highWaterMark) return RESOLVED;
    this.#drain = new Promise<void>((resolve, reject) => (this.#drained = { resolve, reject }));
    this.#pollDrain(1);
    return this.#drain;
  }

  /** Checks the socket's buffer after `ms`, backing off while it stays full. */
  #pollDrain(ms: number): void {
    this.#drainTimer = setTimeout(() => {
      if (this.#drain === null) return;
      if (this.#socket.bufferedAmount() <= this.#highWaterMark) return this.drained();
      this.#pollDrain(Math.min(ms * 2, MAX_DRAIN_POLL_MS));
    }, ms);
  }

  #failDrain(error: unknown): void {
    clearTimeout(this.#drainTimer);
    const drained = this.#drained;
    this.#drain = this.#drained = null;
    drained?.reject(error);
  }

  /**
   * A graceful close: the close frame goes after everything sent, and resolves once the peer
   * answers it (so what was sent has arrived), or after CLOSE_WAIT_MS. A process that exits
   * when `server.close()` resolves then loses no frame in its socket's send buffer.
   */
  #closeAndWait(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const seen = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      this.#closeSeen = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#close(CloseCodes.normal, "");
    return seen;
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failDrain(new RpcError("unavailable", "websocket closed"));
    try {
      this.#socket.close(code, reason.slice(0, MAX_REASON_LENGTH));
    } catch {
      // Already closing.
    }
  }
}

/** A binary message as bytes (a view, no copy), or null for a type no runtime should send. */
function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // Another realm's ArrayBuffer (a worker, a vm context) fails instanceof.
  if (Object.prototype.toString.call(data) === "[object ArrayBuffer]") return new Uint8Array(data as ArrayBuffer);
  return null;
}

function isBlob(data: unknown): data is Blob {
  return typeof Blob !== "undefined" && data instanceof Blob;
}
