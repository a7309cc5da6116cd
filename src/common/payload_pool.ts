/**
 * Buffers of large payloads, lent out and given back for reuse (ConnectionOptions.lendPayloads).
 *
 * A frame split across many chunks (a 1 MiB payload comes in 16 or more) is assembled into
 * a buffer of its own. Allocating that buffer costs more than copying into it: fresh memory
 * is zeroed and page-faulted in (a fifth of a Bun server's time in a 1 MiB echo went to the
 * allocation alone). With lending, such a buffer is marked lent when its frame is handed
 * out, and the engine gives it back once nobody reads it any more (a handler's request:
 * after the handler is done and its reply has left; a caller's reply: `Response.release()`).
 * The next large frame is then assembled into it.
 *
 * Lent buffers are tracked in a WeakSet: one never given back is simply collected. The free
 * list is small and capped, so the pool holds at most MAX_FREE_BYTES whatever the traffic.
 */

/** Frames smaller than this are not worth lending: their allocation is cheap next to their use. */
export const LEND_MIN = 256 * 1024;
/** At most this many bytes wait in the free list; a buffer given back beyond it is dropped. */
const MAX_FREE_BYTES = 64 * 1024 * 1024;
/** At most this many buffers wait in the free list. */
const MAX_FREE = 32;

/** What the pool has done so far (for tests and instrumentation). */
export interface PayloadPoolStats {
  /** Buffers handed out as lent. */
  readonly lent: number;
  /** Of those, how many were reused rather than newly allocated. */
  readonly reused: number;
  /** Buffers given back. */
  readonly givenBack: number;
  /** Buffers waiting in the free list now, and their bytes. */
  readonly free: number;
  readonly freeBytes: number;
}

export class PayloadPool {
  #free: ArrayBuffer[] = [];
  #freeBytes = 0;
  readonly #lent = new WeakSet<ArrayBuffer>();
  #lentCount = 0;
  #reused = 0;
  #givenBack = 0;

  /**
   * A free buffer of at least `size` bytes (and at most twice that, so a small frame does
   * not take a big buffer), as a view over all of it; null when there is none.
   */
  take(size: number): Uint8Array | null {
    const free = this.#free;
    for (let i = 0; i < free.length; i++) {
      const buffer = free[i];
      if (buffer.byteLength < size || buffer.byteLength > 2 * size) continue;
      free[i] = free[free.length - 1];
      free.pop();
      this.#freeBytes -= buffer.byteLength;
      this.#reused++;
      return new Uint8Array(buffer);
    }
    return null;
  }

  /** Marks `buffer` as lent: `giveBack` of a view into it will put it in the free list. */
  lend(buffer: ArrayBuffer): void {
    this.#lent.add(buffer);
    this.#lentCount++;
  }

  /** True when `view` is over a lent buffer not given back yet. */
  isLent(view: Uint8Array): boolean {
    return this.#lent.has(view.buffer as ArrayBuffer);
  }

  /**
   * Gives back the lent buffer under `view` (a no-op for any other view, and for one already
   * given back). Its bytes will be overwritten by a later frame.
   */
  giveBack(view: Uint8Array): void {
    const buffer = this.reclaim(view);
    if (buffer !== null) this.recycle(buffer);
  }

  /**
   * Ends the loan of the buffer under `view` now and returns it, for `recycle` once nothing
   * reads it any more; null when it is not lent (never was, or already reclaimed). Ending the
   * loan at once means a second give-back can never reach a buffer lent out again meanwhile.
   */
  reclaim(view: Uint8Array): ArrayBuffer | null {
    const buffer = view.buffer as ArrayBuffer;
    if (!this.#lent.delete(buffer)) return null;
    this.#givenBack++;
    return buffer;
  }

  /** Puts a reclaimed buffer in the free list (dropped when the list is full). */
  recycle(buffer: ArrayBuffer): void {
    if (this.#free.length >= MAX_FREE || this.#freeBytes + buffer.byteLength > MAX_FREE_BYTES) return;
    this.#free.push(buffer);
    this.#freeBytes += buffer.byteLength;
  }

  stats(): PayloadPoolStats {
    return {
      lent: this.#lentCount,
      reused: this.#reused,
      givenBack: this.#givenBack,
      free: this.#free.length,
      freeBytes: this.#freeBytes,
    };
  }
}

/** The process's one pool: buffers move freely between its connections. */
export const payloadPool: PayloadPool = new PayloadPool();
