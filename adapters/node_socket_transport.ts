/**
 * A `node:net` socket as the core's Transport, without Web Streams.
 *
 * The engine takes one reader and one writer of a transport (src/common/byte_streams.ts).
 * Node's Web Streams, with a reader, a writer and a pending read, weigh about 8 KiB per
 * connection and allocate several promises per chunk; this object is both sides at once,
 * and its only per-chunk cost is the promise the engine awaits. Reads pause the socket when
 * the engine falls behind; writes report backpressure while Node's buffer is over its mark.
 */
import { type ByteReader, type ByteReadResult, type ByteSink, type ByteSource, type ByteWriter, ChunkQueue, type Transport } from "../mod.ts";
import { KEEPALIVE_IDLE_MS } from "./options.ts";

/** What `SocketTransport` needs of a socket: a `net.Socket` or `tls.TLSSocket` fits. */
export interface NodeSocketLike {
  readonly destroyed: boolean;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive?(enable?: boolean, initialDelay?: number): unknown;
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  /** Bytes written and not yet taken by the kernel (Node's queue and libuv's). */
  readonly writableLength?: number;
  cork?(): void;
  uncork?(): void;
  end(callback?: () => void): unknown;
  destroy(): unknown;
}

/** Chunks buffered before the socket is paused. */
const READ_HIGH_WATER_MARK = 16;
const RESOLVED: Promise<void> = Promise.resolve();

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Both sides of one socket: the transport, its streams, its reader and its writer. */
export class SocketTransport implements Transport, ByteSource, ByteSink, ByteReader, ByteWriter {
  readonly readable: ByteSource = this;
  readonly writable: ByteSink = this;
  readonly remoteAddress?: string;
  readonly #socket: NodeSocketLike;
  readonly #reads = new ChunkQueue();
  readonly #resume = () => this.#socket.resume();
  /** While Node's buffer is over its mark: what waits for 'drain'. */
  #drain: Promise<void> | null = null;
  #drained: Waiter<void> | null = null;
  /** Made when `whenSent` is first asked: from then on every write carries its callback. */
  #sends: SendTracker | null = null;

  constructor(socket: NodeSocketLike) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.#end(undefined));
    socket.on("close", () => this.#end(undefined));
    socket.on("error", (error: Error) => this.#end(error));
    socket.on("drain", () => this.#onDrain(null));
  }

  getReader(): ByteReader {
    return this;
  }

  getWriter(): ByteWriter {
    return this;
  }

  // ---- reading ---------------------------------------------------------------------

  #onData(chunk: Uint8Array): void {
    // A plain Uint8Array view over the Buffer's memory: same bytes, no copy.
    const waiting = this.#reads.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (waiting === READ_HIGH_WATER_MARK) {
      this.#socket.pause();
      this.#reads.pauseUntilEmpty(this.#resume);
    }
  }

  read(): Promise<ByteReadResult> {
    return this.#reads.read();
  }

  cancel(): Promise<void> {
    this.#end(undefined);
    this.#socket.destroy();
    return RESOLVED;
  }

  /** The read side ends: the peer closed (error undefined) or the socket failed. */
  #end(error: Error | undefined): void {
    this.#onDrain(error ?? new Error("socket closed"));
    if (error === undefined) this.#reads.end();
    else this.#reads.fail(error);
  }

  // ---- writing ---------------------------------------------------------------------

  get desiredSize(): number {
    return this.#drain === null ? 1 : 0;
  }

  get ready(): Promise<void> {
    return this.#drain ?? RESOLVED;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#socket.destroyed) return Promise.reject(new Error("socket closed"));
    // Node takes the chunk whatever it answers; false means its buffer is over the mark.
    // Writes settle in order: those made while it drains settle with the drain.
    const sends = this.#sends;
    const below = sends === null ? this.#socket.write(chunk) : this.#socket.write(chunk, sends.track());
    if (below && this.#drain === null) return RESOLVED;
    return this.#drain ??= new Promise<void>((resolve, reject) => (this.#drained = { resolve, reject }));
  }

  /**
   * Node keeps a chunk until libuv has written it, after the write resolved. The first call
   * can tell only when nothing at all is queued (else its `sent` is never called); from then
   * on every write carries a callback, and `sent` runs once those made before it are done.
   */
  whenSent(sent: () => void): void {
    if (this.#sends === null) {
      this.#sends = new SendTracker();
      if (this.#socket.writableLength === 0) sent();
      return;
    }
    this.#sends.whenSent(sent);
  }

  /** Node sends what is written while corked with one writev: a header and its payload leave together. */
  cork(writes: () => void): void {
    const socket = this.#socket;
    if (socket.cork === undefined || socket.uncork === undefined) return writes();
    socket.cork();
    try {
      writes();
    } finally {
      socket.uncork();
    }
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#socket.destroyed) return resolve();
      this.#socket.end(() => resolve());
    });
  }

  abort(): Promise<void> {
    this.#sends?.drop();
    this.#socket.destroy();
    this.#onDrain(new Error("socket closed"));
    return RESOLVED;
  }

  /** Node's buffer drained (error null), or the socket went: what waited for it settles. */
  #onDrain(error: Error | null): void {
    const drained = this.#drained;
    this.#drain = this.#drained = null;
    if (drained === null) return;
    if (error === null) drained.resolve();
    else drained.reject(error);
  }
}

/**
 * Counts a socket's writes and their callbacks (which Node calls in order, once libuv has
 * written the bytes), to tell when every write made before some point is done.
 */
class SendTracker {
  #handed = 0;
  #done = 0;
  #waiters: { mark: number; sent: () => void }[] | null = null;
  readonly #onSent = (error?: Error | null): void => {
    if (error) return this.drop(); // the socket failed: nothing behind it is sent
    this.#done++;
    const waiters = this.#waiters;
    if (waiters === null) return;
    let kept = 0;
    for (const waiter of waiters) {
      if (waiter.mark <= this.#done) waiter.sent();
      else waiters[kept++] = waiter;
    }
    waiters.length = kept;
    if (kept === 0) this.#waiters = null;
  };

  /** The callback of one more write. */
  track(): (error?: Error | null) => void {
    this.#handed++;
    return this.#onSent;
  }

  whenSent(sent: () => void): void {
    if (this.#done === this.#handed) return sent();
    (this.#waiters ??= []).push({ mark: this.#handed, sent });
  }

  drop(): void {
    this.#waiters = null;
  }
}

/** Wraps a connected socket as the core's Transport (Nagle off, keepalive on). */
export function nodeSocketTransport(socket: NodeSocketLike): Transport {
  socket.setNoDelay(true);
  socket.setKeepAlive?.(true, KEEPALIVE_IDLE_MS);
  return new SocketTransport(socket);
}
