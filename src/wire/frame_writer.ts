import type { ByteSink, ByteWriter } from "../common/byte_streams.ts";
import { HEADER_SIZE, type RequestId, writeHeader } from "./frame.ts";

/** Payloads at least this big are written as their own chunk instead of copied. */
const COPY_LIMIT = 16 * 1024;
/**
 * Slabs that small frames are encoded into are sized to the connection's traffic, between
 * these: an idle connection (a server may hold tens of thousands) keeps a small one, a busy
 * one gets few refills.
 */
const MIN_SLAB = 4 * 1024;
const MAX_SLAB = 64 * 1024;
/** A slab used up within this many flushes was small for the traffic: the next is twice its size. */
const BUSY_FLUSHES = 8;
/** One that lasted more than this many: the next is half. */
const QUIET_FLUSHES = 64;
/** Up to this many unflushed bytes move along when a slab fills, keeping the tick one write. */
const MAX_CARRY = 256 * 1024;
/** Flushes at the end of a microtask tick allowed per turn before frames are batched. */
const QUICK_FLUSHES = 8;
/** While batching, this many waiting bytes go out at once. */
const BATCH_BYTES = 64 * 1024;

/**
 * Encodes frames and writes them to a WritableStream, coalescing the frames written in
 * the same tick into one write.
 *
 * Small frames are encoded back to back into a slab; a flush hands the filled part of
 * the slab to the stream (no copy) and keeps filling after it; a new slab is allocated
 * only when one runs out. Large payloads skip the slab and go out as they are.
 *
 * When to flush: at the end of the tick, so a reply leaves at once. But a producer that
 * keeps writing across ticks (an async generator yields one frame per tick) would then
 * make one write per frame; so after QUICK_FLUSHES in one turn, frames are batched until
 * BATCH_BYTES wait or the turn ends (a zero-delay timer). `newTurn()` (called when the
 * connection reads a chunk) allows quick flushes again.
 */
export class FrameWriter {
  #writer: ByteWriter;
  #onError: (error: unknown) => void;
  /** Allocated on the first frame. */
  #slab = EMPTY;
  #slabSize = MIN_SLAB;
  #flushesOnSlab = 0;
  /** Start of the bytes not yet handed to the stream. */
  #start = 0;
  /** End of the encoded bytes. */
  #end = 0;
  /** Chunks queued before the slab's pending bytes (only when large payloads are involved). */
  #queued: Uint8Array[] = [];
  #scheduled = false;
  #closed = false;
  #quickFlushes = 0;
  #batching = false;
  #pendingBytes = 0;
  #turnTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Frames behind one still being made (writeLater), in order; null when none. */
  #waiting: WaitingFrame[] | null = null;
  #idle: (() => void) | null = null;
  /** Bytes handed to the stream whose write has not completed: what the peer has yet to take. */
  unsent = 0;
  /** Bytes of every frame encoded so far (for instrumentation: one add per frame). */
  written = 0;
  /** The size of each write not completed yet, oldest first (writes complete in order). */
  #sizes: number[] = [];
  #sizesHead = 0;
  /** Who waits in `drained()`, each for `unsent` to fall to its bound; null when nobody. */
  #drainWaiters: DrainWaiter[] | null = null;
  /** Who waits in `afterSent()` for the next flush; null when nobody. */
  #sentWaiters: Array<() => void> | null = null;
  readonly #flush = () => this.flush();
  readonly #wrote = (): void => {
    this.unsent -= this.#sizes[this.#sizesHead++];
    if (this.#sizesHead === this.#sizes.length) {
      this.#sizes.length = 0;
      this.#sizesHead = 0;
    }
    if (this.#drainWaiters !== null) this.#progress();
  };
  readonly #endTurn = () => {
    this.#turnTimer = undefined;
    this.#quickFlushes = 0;
    if (this.#batching) this.flush();
  };

  constructor(writable: ByteSink, onError: (error: unknown) => void) {
    this.#writer = writable.getWriter();
    this.#onError = onError;
  }

  /** Queues one frame; it goes out with the others of this tick. */
  write(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    if (this.#closed) return;
    if (this.#waiting !== null) return this.#wait(id, flags, cmd, null, payload);
    const size = payload.length;
    if (size >= COPY_LIMIT) {
      this.#reserve(HEADER_SIZE);
      writeHeader(this.#slab, this.#end, id, flags, cmd, size);
      this.#end += HEADER_SIZE;
      this.#cut();
      this.#queued.push(payload);
    } else {
      this.#reserve(HEADER_SIZE + size);
      writeHeader(this.#slab, this.#end, id, flags, cmd, size);
      if (size > 0) this.#slab.set(payload, this.#end + HEADER_SIZE);
      this.#end += HEADER_SIZE + size;
    }
    this.#written(HEADER_SIZE + size);
  }

  /**
   * Queues one frame whose payload is `prefix` (weft's extension block) then `payload`,
   * without joining the two first.
   */
  writeWithPrefix(id: RequestId, flags: number, cmd: number, prefix: Uint8Array, payload: Uint8Array): void {
    if (this.#closed) return;
    if (this.#waiting !== null) return this.#wait(id, flags, cmd, prefix, payload);
    const size = prefix.length + payload.length;
    const inline = payload.length < COPY_LIMIT;
    this.#reserve(HEADER_SIZE + prefix.length + (inline ? payload.length : 0));
    writeHeader(this.#slab, this.#end, id, flags, cmd, size);
    this.#slab.set(prefix, this.#end + HEADER_SIZE);
    this.#end += HEADER_SIZE + prefix.length;
    if (inline) {
      this.#slab.set(payload, this.#end);
      this.#end += payload.length;
    } else {
      this.#cut();
      this.#queued.push(payload);
    }
    this.#written(HEADER_SIZE + size);
  }

  /**
   * Queues a frame whose bytes are still being made (a payload being compressed). Frames
   * written after it wait behind it, so the connection's order holds. `frame` must not reject.
   */
  writeLater(id: RequestId, cmd: number, frame: Promise<LaterFrame>): void {
    if (this.#closed) return;
    const entry: WaitingFrame = { id, flags: 0, cmd, prefix: null, payload: EMPTY, ready: false };
    (this.#waiting ??= []).push(entry);
    frame.then((made) => {
      entry.flags = made.flags;
      entry.prefix = made.prefix;
      entry.payload = made.payload;
      entry.ready = true;
      this.#release();
    });
  }

  #wait(id: RequestId, flags: number, cmd: number, prefix: Uint8Array | null, payload: Uint8Array): void {
    this.#waiting!.push({ id, flags, cmd, prefix, payload, ready: true });
  }

  /** Writes the waiting frames that are ready, in order, up to the first one still being made. */
  #release(): void {
    const waiting = this.#waiting;
    if (waiting === null) return;
    let next = 0;
    while (next < waiting.length && waiting[next].ready) next++;
    const ready = waiting.splice(0, next);
    this.#waiting = null; // so the ready ones are encoded now
    for (const frame of ready) {
      if (frame.prefix === null) this.write(frame.id, frame.flags, frame.cmd, frame.payload);
      else this.writeWithPrefix(frame.id, frame.flags, frame.cmd, frame.prefix, frame.payload);
    }
    if (waiting.length > 0) {
      this.#waiting = waiting;
    } else if (this.#idle !== null) {
      this.#idle();
      this.#idle = null;
    }
  }

  /** Schedules the flush of what was just encoded. */
  #written(bytes: number): void {
    this.written += bytes;
    this.#pendingBytes += bytes;
    if (this.#scheduled) {
      if (this.#batching && this.#pendingBytes >= BATCH_BYTES) this.flush();
      return;
    }
    this.#scheduled = true;
    if (this.#quickFlushes < QUICK_FLUSHES) {
      this.#quickFlushes++;
      queueMicrotask(this.#flush);
    } else {
      this.#batching = true;
      this.#turnTimer ??= setTimeout(this.#endTurn, 0);
    }
  }

  /** A new turn of I/O began: frames may again leave at the end of their tick. */
  newTurn(): void {
    this.#quickFlushes = 0;
  }

  /** True while the stream's queue is over its high-water mark: stream producers should wait. */
  get backpressured(): boolean {
    const size = this.#writer.desiredSize;
    return size !== null && size <= 0;
  }

  /** Bytes encoded this tick and not yet handed to the stream. */
  get pending(): number {
    return this.#pendingBytes;
  }

  /** Resolves when the stream can take more. */
  get ready(): Promise<void> {
    return this.#writer.ready;
  }

  /**
   * Resolves once at most `bytes` are unsent (or the writer is closed). `onProgress` runs on
   * each write that completes meanwhile: the peer is reading, however slowly.
   */
  drained(bytes: number, onProgress: (() => void) | null = null): Promise<void> {
    if (this.unsent <= bytes || this.#closed) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push({ bytes, resolve, onProgress }));
  }

  /** A write completed: tell the waiters, and let go those whose bound is met. */
  #progress(): void {
    const waiters = this.#drainWaiters!;
    let kept = 0;
    for (const waiter of waiters) {
      waiter.onProgress?.();
      if (this.unsent <= waiter.bytes) waiter.resolve();
      else waiters[kept++] = waiter;
    }
    waiters.length = kept;
    if (kept === 0) this.#drainWaiters = null;
  }

  #releaseDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = null;
    if (waiters !== null) for (const waiter of waiters) waiter.resolve();
  }

  /**
   * Calls `sent` once every frame written so far has left the process (see
   * ByteWriter.whenSent), so the buffers those frames point to may be reused. Returns false,
   * and never calls it, when that cannot be known: the transport does not tell, or a frame
   * is still being made (compressed).
   */
  afterSent(sent: () => void): boolean {
    const writer = this.#writer;
    if (this.#closed || writer.whenSent === undefined || this.#waiting !== null) return false;
    // Frames not handed on yet always have a flush scheduled: ask once it has run.
    if (this.#scheduled) (this.#sentWaiters ??= []).push(sent);
    else writer.whenSent(sent);
    return true;
  }

  /** Hands everything queued to the stream now. */
  flush(): void {
    this.#scheduled = false;
    this.#batching = false;
    this.#pendingBytes = 0;
    if (this.#closed) return;
    this.#cut();
    this.#flushesOnSlab++;
    const queued = this.#queued;
    if (queued.length > 0) {
      if (queued.length > 1 && this.#writer.cork !== undefined) this.#writer.cork(this.#writeQueued);
      else this.#writeQueued();
    }
    const waiters = this.#sentWaiters;
    if (waiters !== null) {
      this.#sentWaiters = null;
      for (const sent of waiters) this.#writer.whenSent!(sent);
    }
  }

  /** Hands the queued chunks to the stream (corked, when there are several and it can be). */
  readonly #writeQueued = (): void => {
    const queued = this.#queued;
    this.#queued = [];
    for (const chunk of queued) {
      this.unsent += chunk.length;
      this.#sizes.push(chunk.length);
      this.#writer.write(chunk).then(this.#wrote, this.#onError);
    }
  };

  /** Flushes, then closes the stream (a graceful end of the byte stream). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#waiting !== null) await new Promise<void>((resolve) => (this.#idle = resolve));
    if (this.#closed) return;
    this.flush();
    this.#stopTimer();
    this.#closed = true;
    this.#releaseDrain();
    try {
      await this.#writer.close();
    } catch {
      // Already closed or errored by the transport: nothing left to deliver.
    }
  }

  /** Drops whatever is queued and aborts the stream. */
  abort(reason?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queued = [];
    this.#sentWaiters = null;
    this.#stopTimer();
    this.#releaseDrain();
    this.#writer.abort(reason).catch(() => {});
  }

  #stopTimer(): void {
    if (this.#turnTimer !== undefined) clearTimeout(this.#turnTimer);
    this.#turnTimer = undefined;
  }

  /** Sizes the next slab by how many flushes the one running out lasted. */
  #resize(): void {
    if (this.#slab.length > 0) {
      if (this.#flushesOnSlab <= BUSY_FLUSHES) this.#slabSize = Math.min(MAX_SLAB, 2 * this.#slabSize);
      else if (this.#flushesOnSlab > QUIET_FLUSHES) this.#slabSize = Math.max(MIN_SLAB, this.#slabSize / 2);
    }
    this.#flushesOnSlab = 0;
  }

  /** Moves the slab's pending bytes to the queue, as a view (the slab is never rewritten there). */
  #cut(): void {
    if (this.#end > this.#start) {
      this.#queued.push(this.#slab.subarray(this.#start, this.#end));
      this.#start = this.#end;
    }
  }

  #reserve(bytes: number): void {
    if (this.#end + bytes <= this.#slab.length) return;
    this.#resize();
    const pending = this.#slab.subarray(this.#start, this.#end);
    if (pending.length > MAX_CARRY) {
      // A big tick: a second write costs less than copying this much again.
      this.#cut();
      this.#slab = new Uint8Array(Math.max(this.#slabSize, bytes));
      this.#start = this.#end = 0;
      return;
    }
    // Carry this tick's bytes into a slab twice their size, so the tick stays one write
    // and a run of refills copies each byte a bounded number of times.
    this.#slab = new Uint8Array(Math.max(this.#slabSize, 2 * (pending.length + bytes)));
    this.#slab.set(pending);
    this.#start = 0;
    this.#end = pending.length;
  }
}

/** A frame made asynchronously: its final flags, its block (if any) and its payload. */
export interface LaterFrame {
  flags: number;
  prefix: Uint8Array | null;
  payload: Uint8Array;
}

interface DrainWaiter {
  bytes: number;
  resolve: () => void;
  onProgress: (() => void) | null;
}

interface WaitingFrame extends LaterFrame {
  id: RequestId;
  cmd: number;
  ready: boolean;
}

const EMPTY = new Uint8Array(0);
