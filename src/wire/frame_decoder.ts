import { ProtocolError } from "../common/errors.ts";
import { LEND_MIN, payloadPool } from "../common/payload_pool.ts";
import { Flags, STREAM_BITS } from "./flags.ts";
import { HEADER_SIZE, MIN_LENGTH, readRequestId, readUint32, type RequestId } from "./frame.ts";

/** Called once per decoded frame. `payload` is a view: copy it to keep it past the chunk's life. */
export type FrameHandler = (id: RequestId, flags: number, cmd: number, payload: Uint8Array) => void;

/** The first buffer for a frame split across chunks whose length is not known yet. */
const FIRST_PARTIAL = HEADER_SIZE;
/**
 * A split frame up to this size gets its whole buffer at once, so each of its bytes is
 * copied once; a peer that announces such a frame holds at most this much until it sends
 * the rest. Larger frames grow by doubling (bench/stream.ts measures 1 MiB echoes).
 */
const SMALL_FRAME = 1024 * 1024;

/**
 * With `copySmall`, a chunk that is one frame with a payload up to this size has its payload
 * copied out rather than viewed: a quiet connection's call. On Bun such a chunk is an array
 * whose `.buffer` does not exist yet, and the first view makes it (0.25 us, where the copy
 * takes 0.03). Not for chunks of several frames: their buffer is made once for all of them,
 * while each copy would pay for its own at its first view (the typed layer views every
 * request's body): copying every small payload cost Bun's typed server 0.3-0.5 us a call at
 * 64 in flight. On V8 the copy is the dearer one (on Deno 0.4 us against 0.02), so only a
 * transport whose chunks are like Bun's asks.
 */
const COPY_MAX = 64;

/**
 * Frames with any of these flags are never lent: a stream's payloads and a pushed frame's
 * have no end of use the engine can see, and a compressed payload is inflated into another.
 */
const UNLENDABLE = STREAM_BITS | Flags.StreamRst | Flags.Push | Flags.Codec;

/**
 * Turns a byte stream, chunk by chunk, into frames.
 *
 * Frames wholly inside a chunk are handed out as views into that chunk: no copy (with
 * `copySmall`, the payload of a chunk that is one small frame is copied: see COPY_MAX). A frame
 * split across chunks is copied, as its bytes arrive, into a buffer that ends up exactly
 * its size. The work per received byte is the same however the bytes are chunked: a peer
 * dripping one byte per packet costs one copy per byte, not a pass over what came before
 * (keeping the pieces and walking them on every chunk made 3 KB/s cost 60 % of a core).
 * Past 1 MiB the buffer grows by doubling, never beyond four times the bytes received, so
 * a peer that announces a large frame and sends little of it holds little memory.
 *
 * With `lend`, a plain request or reply of LEND_MIN bytes or more that is split across
 * chunks is assembled into a buffer from the payload pool when it has one (allocated as
 * above when not), and handed out lent: the engine gives it back once it is no longer read.
 */
export class FrameDecoder {
  readonly maxFrameSize: number;
  readonly #lends: boolean;
  /** The frame in progress: its first `#have` bytes; null when none. */
  #partial: Uint8Array | null = null;
  #have = 0;
  /** Its full size (length field + 4), or 0 while the length field is incomplete. */
  #total = 0;
  /** The frame in progress is handed out lent. */
  #lending = false;
  /** Payloads up to this size are copied (-1: none). */
  readonly #copyMax: number;

  constructor(maxFrameSize: number, lend = false, copySmall = false) {
    this.maxFrameSize = maxFrameSize;
    this.#lends = lend;
    this.#copyMax = copySmall ? COPY_MAX : -1;
  }

  /** Frames handed out so far (a rate limit reads the difference per chunk). */
  frames = 0;
  /**
   * With `lend`: true when the last `decode` copied its whole chunk into the frame in progress
   * and handed out no view of it, so the chunk's memory may be read into again. (Not without:
   * Deno reading into the same memory made the 1 MiB echo twice as slow at 1 in flight, as
   * V8 then collected less often and each new frame buffer came from fresh pages.)
   */
  copiedWhole = false;

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.#have;
  }

  /**
   * Decodes the complete frames in `chunk` (plus what earlier chunks left over), at most
   * `maxFrames` of them, and returns how many bytes of `chunk` it consumed: less than its
   * length only when it stopped at `maxFrames`, and then the caller passes the rest later.
   * Throws ProtocolError on a bad length; the stream is unusable after that.
   */
  decode(chunk: Uint8Array, onFrame: FrameHandler, maxFrames = Infinity): number {
    let offset = 0;
    this.copiedWhole = false;
    if (this.#have > 0) {
      offset = this.#completePartial(chunk, onFrame);
      if (offset < 0) {
        this.copiedWhole = this.#lends;
        return chunk.length;
      }
    }
    const end = chunk.length;
    // Read at the first view, once: on JSC `.buffer` is a getter that can cost as much as the view.
    let buffer: ArrayBufferLike | null = null;
    const base = chunk.byteOffset + HEADER_SIZE;
    let frames = 0;
    while (end - offset >= 4) {
      if (frames++ === maxFrames) return offset;
      this.frames++;
      const length = this.#checkedLength(readUint32(chunk, offset));
      const frameEnd = offset + 4 + length;
      if (frameEnd > end) break;
      onFrame(
        readRequestId(chunk, offset + 4),
        chunk[offset + 12],
        (chunk[offset + 13] << 16) | (chunk[offset + 14] << 8) | chunk[offset + 15],
        length - 12 <= this.#copyMax && frameEnd === end && offset === 0
          ? copyOut(chunk, HEADER_SIZE, length - 12)
          // A view built directly: V8 makes it about twice as fast as subarray().
          : new Uint8Array(buffer ??= chunk.buffer, base + offset, length - 12),
      );
      offset = frameEnd;
    }
    if (offset < end) {
      this.#startPartial(chunk, offset);
      this.copiedWhole = this.#lends && offset === 0;
    }
    return end;
  }

  /** The start of a frame that the chunk does not finish: copied out, the chunk let go. */
  #startPartial(chunk: Uint8Array, offset: number): void {
    const rest = chunk.length - offset;
    // The length field was checked by the loop when it is all here.
    this.#total = rest >= 4 ? 4 + readUint32(chunk, offset) : 0;
    // The flags are known only with the whole header; a frame whose header is split is not lent.
    this.#lending = this.#lends && this.#total - HEADER_SIZE >= LEND_MIN && rest >= HEADER_SIZE &&
      (chunk[offset + 12] & UNLENDABLE) === 0;
    this.#partial = (this.#lending ? payloadPool.take(this.#total) : null) ??
      new Uint8Array(this.#total === 0 ? FIRST_PARTIAL : this.#capacityFor(rest));
    this.#partial.set(chunk.subarray(offset));
    this.#have = rest;
  }

  /**
   * Adds `chunk` to the frame in progress. Returns where the rest of the chunk starts once
   * that frame is complete and handed out, or -1 when the chunk was all swallowed.
   */
  #completePartial(chunk: Uint8Array, onFrame: FrameHandler): number {
    let used = 0;
    if (this.#total === 0) {
      used = Math.min(4 - this.#have, chunk.length);
      this.#append(chunk, 0, used);
      if (this.#have < 4) return -1;
      this.#total = 4 + this.#checkedLength(readUint32(this.#partial!, 0));
    }
    const missing = this.#total - this.#have;
    if (chunk.length - used < missing) {
      this.#append(chunk, used, chunk.length - used);
      return -1;
    }
    this.#append(chunk, used, missing);
    const frame = this.#partial!;
    const total = this.#total;
    this.#partial = null;
    this.#have = this.#total = 0;
    if (this.#lending) {
      this.#lending = false;
      payloadPool.lend(frame.buffer as ArrayBuffer);
    }
    this.frames++;
    onFrame(
      readRequestId(frame, 4),
      frame[12],
      (frame[13] << 16) | (frame[14] << 8) | frame[15],
      frame.subarray(HEADER_SIZE, total),
    );
    return used + missing;
  }

  /** Copies `count` bytes of `chunk` from `from` onto the frame in progress. */
  #append(chunk: Uint8Array, from: number, count: number): void {
    const need = this.#have + count;
    let partial = this.#partial!;
    if (need > partial.length) {
      const grown = new Uint8Array(this.#total === 0 ? need : this.#capacityFor(need));
      grown.set(partial.subarray(0, this.#have));
      this.#partial = partial = grown;
    }
    partial.set(chunk.subarray(from, from + count), this.#have);
    this.#have = need;
  }

  /** Room for at least `need` bytes of the frame in progress: doubling, never past its size. */
  #capacityFor(need: number): number {
    const total = this.#total;
    if (total <= SMALL_FRAME) return total;
    const next = Math.max(need, 2 * (this.#partial?.length ?? 0), SMALL_FRAME);
    // Within one doubling of the end, the next step would be the last: take it now, so a
    // frame just over a power of two (1 MiB of payload and its header) is not copied twice.
    return 2 * next >= total ? total : next;
  }

  #checkedLength(length: number): number {
    if (length < MIN_LENGTH) {
      throw new ProtocolError(`invalid frame: length field ${length} is below the minimum of ${MIN_LENGTH}`);
    }
    if (length > this.maxFrameSize) {
      throw new ProtocolError(
        `frame too large: length field ${length} exceeds the limit of ${this.maxFrameSize} bytes`,
      );
    }
    return length;
  }
}

/** `length` bytes of `chunk` from `start`, in an array of their own (a plain Uint8Array, whatever the chunk is). */
function copyOut(chunk: Uint8Array, start: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = chunk[start + i];
  return out;
}
