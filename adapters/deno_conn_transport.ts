/**
 * A Deno TCP (or TLS) connection as the core's Transport, without Web Streams.
 *
 * Reads go through `conn.read` into the free tail of a slab rather than `conn.readable`,
 * which allocates (and zero-fills) a fresh 64 KiB buffer for every read, however few bytes
 * arrived. Each chunk is a distinct region of a slab that is never rewritten, so payload
 * views into it stay valid; a new slab is allocated only when the free tail gets small.
 * Slabs are sized to the traffic (four times the last read, 4 to 64 KiB): a waiting read
 * holds its slab, and an idle connection should hold little.
 *
 * The engine takes one reader and one writer (src/common/byte_streams.ts); this object is
 * all of them, so a connection costs no Web Streams (about 4.5 KiB each on Deno). Writes run
 * one after another, each until the connection took all of its bytes.
 */
import type { ByteReader, ByteReadResult, ByteSink, ByteSource, ByteWriter, Transport } from "../mod.ts";
import type { DenoTcpConn } from "./deno_api.ts";

const MIN_SLAB = 1024;
const MAX_SLAB = 64 * 1024;
const RESOLVED: Promise<void> = Promise.resolve();
const END: ByteReadResult = { done: true, value: undefined };
const ignore = () => {};

/** Both sides of one connection: the transport, its streams, its reader and its writer. */
export class ConnTransport implements Transport, ByteSource, ByteSink, ByteReader, ByteWriter {
  readonly readable: ByteSource = this;
  readonly writable: ByteSink = this;
  readonly remoteAddress: string;
  readonly #conn: DenoTcpConn;
  #slab = new Uint8Array(MIN_SLAB);
  #used = 0;
  #lastRead = 0;
  #closed = false;
  /** Writes not finished (the one running and those behind it), and the last of them. */
  #writes = 0;
  #lastWrite: Promise<void> = RESOLVED;
  /** Who waits for the writes to be done (ready, close). */
  #idle: (() => void)[] | null = null;

  constructor(conn: DenoTcpConn) {
    this.#conn = conn;
    const remote = conn.remoteAddr;
    this.remoteAddress = `${remote.hostname}:${remote.port}`;
  }

  getReader(): ByteReader {
    return this;
  }

  getWriter(): ByteWriter {
    return this;
  }

  // ---- reading ---------------------------------------------------------------------

  async read(): Promise<ByteReadResult> {
    // Below an eighth of the slab free, the next read gets a new slab.
    if (8 * (this.#slab.length - this.#used) < this.#slab.length) {
      this.#slab = new Uint8Array(slabSizeAfter(this.#lastRead));
      this.#used = 0;
    }
    const at = this.#used;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#slab.subarray(at));
    } catch (error) {
      if (this.#closed) return END;
      throw error;
    }
    if (n === null) return END;
    this.#used = at + n;
    this.#lastRead = n;
    return { done: false, value: this.#slab.subarray(at, at + n) };
  }

  cancel(): Promise<void> {
    this.#close();
    return RESOLVED;
  }

  /**
   * The engine copied the last chunk whole (the middle of a large frame): the next read goes
   * where it was. A bulk transfer then reads into the same memory instead of a new slab
   * (allocated, zeroed and faulted in) every 64 KiB. Only in a slab of the largest size: a
   * smaller one is left to fill, so the next is sized to the traffic (a 1 KiB idle slab
   * reused would read a large frame 1 KiB at a time).
   */
  reuse(chunk: Uint8Array): void {
    const slab = this.#slab;
    if (slab.length === MAX_SLAB && chunk.buffer === slab.buffer && chunk.byteOffset + chunk.length === this.#used) {
      this.#used = chunk.byteOffset;
    }
  }

  // ---- writing ---------------------------------------------------------------------

  /** As a Web Stream's writer with a high-water mark of one write. */
  get desiredSize(): number {
    return 1 - this.#writes;
  }

  get ready(): Promise<void> {
    return this.#writes === 0 ? RESOLVED : this.#whenIdle();
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("socket closed"));
    this.#writes++;
    const write = this.#writes === 1 ? this.#writeAll(chunk) : this.#lastWrite.then(() => this.#writeAll(chunk));
    this.#lastWrite = write;
    write.then(this.#wrote, this.#wrote);
    return write;
  }

  readonly #wrote = (): void => {
    if (--this.#writes > 0 || this.#idle === null) return;
    const idle = this.#idle;
    this.#idle = null;
    for (const resolve of idle) resolve();
  };

  /** A write settles once the connection took all its bytes; they settle in order. */
  whenSent(sent: () => void): void {
    if (this.#writes === 0) sent();
    else this.#lastWrite.then(sent, ignore);
  }

  async #writeAll(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length;) at += await this.#conn.write(chunk.subarray(at));
  }

  #whenIdle(): Promise<void> {
    return new Promise((resolve) => (this.#idle ??= []).push(resolve));
  }

  /** A graceful end: FIN after everything written (conn.writable.close() would close both halves). */
  async close(): Promise<void> {
    if (this.#writes > 0) await this.#whenIdle();
    try {
      await this.#conn.closeWrite();
    } catch {
      // Already closed.
    }
  }

  abort(): Promise<void> {
    this.#close();
    return RESOLVED;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the other half.
    }
  }
}

/** Four times the last read, as a power of two between MIN_SLAB and MAX_SLAB. */
function slabSizeAfter(lastRead: number): number {
  let size = MIN_SLAB;
  while (size < 4 * lastRead && size < MAX_SLAB) size *= 2;
  return size;
}
