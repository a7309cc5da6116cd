/**
 * A Bun socket as the core's Transport, without Web Streams.
 *
 * Bun hands socket events to shared handlers (bun.ts); each socket's `data` is one of
 * these, which the engine also takes as its reader and writer (src/common/byte_streams.ts).
 * Reads pause the socket when the engine falls behind. Bun's write() may take only part of
 * a buffer and does not queue the rest: the rest, and the writes behind it, wait for
 * `drain`, and those writes' promises with them (that is the backpressure).
 */
import {
  type ByteReader,
  type ByteReadResult,
  type ByteSink,
  type ByteSource,
  type ByteWriter,
  ChunkQueue,
  RpcError,
  type Transport,
} from "../mod.ts";
import type { BunSocket } from "./bun_api.ts";
import { KEEPALIVE_IDLE_MS } from "./options.ts";

/** Chunks buffered before the socket is paused. */
const READ_HIGH_WATER_MARK = 16;
const RESOLVED: Promise<void> = Promise.resolve();

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A write Bun has not taken all of yet: what is left of it. */
interface Blocked extends Waiter<void> {
  chunk: Uint8Array;
}

/** Both sides of one socket: the transport, its streams, its reader and its writer. */
export class BunSocketTransport implements Transport, ByteSource, ByteSink, ByteReader, ByteWriter {
  readonly readable: ByteSource = this;
  readonly writable: ByteSink = this;
  readonly remoteAddress: string;
  /** A small chunk's `.buffer` is made on first use, dearer than copying its payload out. */
  readonly copySmallPayloads = true;
  readonly #socket: BunSocket<BunSocketTransport>;
  readonly #reads = new ChunkQueue();
  readonly #resume = () => this.#socket.resume();
  /** Writes waiting for `drain`, oldest first; null while Bun takes everything. */
  #blocked: Blocked[] | null = null;
  /** Who waits for the writes to be taken (ready, close). */
  #unblocked: (() => void)[] | null = null;
  /** Who waits in `whenSent` for the blocked writes to be taken. */
  #sent: (() => void)[] | null = null;
  #ended = false;

  constructor(socket: BunSocket<BunSocketTransport>) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive?.(true, KEEPALIVE_IDLE_MS);
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /** The transport the engine takes (this object). */
  get transport(): Transport {
    return this;
  }

  getReader(): ByteReader {
    return this;
  }

  getWriter(): ByteWriter {
    return this;
  }

  // ---- socket events (bun.ts's handlers) -------------------------------------------

  onData(data: Uint8Array): void {
    if (this.#reads.push(data) === READ_HIGH_WATER_MARK) {
      this.#socket.pause();
      this.#reads.pauseUntilEmpty(this.#resume);
    }
  }

  onDrain(): void {
    const blocked = this.#blocked;
    if (blocked === null) return;
    while (blocked.length > 0) {
      const first = blocked[0];
      const written = this.#socket.write(first.chunk, 0, first.chunk.length);
      if (written < 0) return this.onClose(new Error("socket closed"));
      if (written < first.chunk.length) {
        first.chunk = first.chunk.subarray(written);
        return;
      }
      blocked.shift();
      first.resolve();
    }
    this.#blocked = null;
    this.#wakeUnblocked();
    const sent = this.#sent;
    this.#sent = null;
    if (sent !== null) for (const done of sent) done();
  }

  /** The socket ended (error undefined) or failed. */
  onClose(error?: Error): void {
    const blocked = this.#blocked;
    this.#blocked = null;
    this.#sent = null; // what was not taken is not sent: its buffers stay lent
    if (blocked !== null) for (const write of blocked) write.reject(error ?? new Error("socket closed"));
    this.#wakeUnblocked();
    if (error === undefined) this.#reads.end();
    else this.#reads.fail(error);
  }

  // ---- reading ---------------------------------------------------------------------

  read(): Promise<ByteReadResult> {
    return this.#reads.read();
  }

  cancel(): Promise<void> {
    this.#terminate();
    return RESOLVED;
  }

  // ---- writing ---------------------------------------------------------------------

  /** As a Web Stream's writer with a high-water mark of one write. */
  get desiredSize(): number {
    return this.#blocked === null ? 1 : 1 - this.#blocked.length;
  }

  get ready(): Promise<void> {
    return this.#blocked === null ? RESOLVED : this.#whenUnblocked();
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#ended) return Promise.reject(new RpcError("unavailable", "socket closed"));
    const blocked = this.#blocked;
    if (blocked !== null) return new Promise((resolve, reject) => blocked.push({ chunk, resolve, reject }));
    const written = this.#socket.write(chunk, 0, chunk.length);
    if (written < 0) return Promise.reject(new RpcError("unavailable", "socket closed"));
    if (written === chunk.length) return RESOLVED;
    const rest = chunk.subarray(written);
    return new Promise((resolve, reject) => (this.#blocked = [{ chunk: rest, resolve, reject }]));
  }

  /** Bun's write() takes bytes only into the kernel: once nothing is blocked, all is sent. */
  whenSent(sent: () => void): void {
    if (this.#blocked === null) sent();
    else (this.#sent ??= []).push(sent);
  }

  /** FIN once Bun has taken every write. */
  async close(): Promise<void> {
    if (this.#blocked !== null) await this.#whenUnblocked();
    if (this.#ended) return;
    this.#ended = true;
    this.#socket.end();
  }

  abort(): Promise<void> {
    this.#terminate();
    return RESOLVED;
  }

  #whenUnblocked(): Promise<void> {
    return new Promise((resolve) => (this.#unblocked ??= []).push(resolve));
  }

  #wakeUnblocked(): void {
    const waiting = this.#unblocked;
    this.#unblocked = null;
    if (waiting !== null) for (const resolve of waiting) resolve();
  }

  #terminate(): void {
    this.#ended = true;
    this.#socket.terminate();
  }
}
