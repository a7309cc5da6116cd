/**
 * A qrpc frame scanner that works chunk by chunk (frames of any size, split anywhere), for
 * the raw streaming ceiling: its client (raw_stream_client.ts, raw_bulk_client.ts) and its
 * server (servers/raw_stream.ts). It hands each frame's header fields out in place, the
 * least work a client can do to tell frames apart.
 */
import { HEADER_SIZE } from "../harness/wire.ts";

/**
 * One frame. `bytes` holds the payload at `payloadOffset` when it arrived in one piece or
 * is small enough to be kept (see FrameScanner); otherwise it is null (the payload was
 * skipped, as a counting client does with bulk data).
 */
export type RawFrameHandler = (
  id: number,
  flags: number,
  cmd: number,
  payloadLength: number,
  bytes: Uint8Array | null,
  payloadOffset: number,
) => void;

/** Largest length field accepted (as weft's default: 10 MiB). */
const MAX_LENGTH = 10 * 1024 * 1024;

/**
 * Splits a byte stream into qrpc frames. Frames wholly inside a chunk are handed out in
 * place (no copy); a frame split across chunks has its header assembled, and its payload
 * kept if at most `keepUpTo` bytes, else skipped. Ids must fit in 32 bits.
 */
export class FrameScanner {
  readonly #onFrame: RawFrameHandler;
  readonly #keepUpTo: number;
  #head = new Uint8Array(HEADER_SIZE);
  #headLen = 0;
  /** Payload bytes of the split frame still to come. */
  #rest = 0;
  #small: Uint8Array | null = null;
  #smallLen = 0;
  #id = 0;
  #flags = 0;
  #cmd = 0;
  #payloadLength = 0;

  constructor(onFrame: RawFrameHandler, keepUpTo = 64) {
    this.#onFrame = onFrame;
    this.#keepUpTo = keepUpTo;
  }

  scan(chunk: Uint8Array): void {
    let off = 0;
    const end = chunk.length;
    if (this.#headLen > 0 || this.#rest > 0) {
      off = this.#continue(chunk);
      if (off < 0) return;
    }
    const onFrame = this.#onFrame;
    while (end - off >= HEADER_SIZE) {
      const length = ((chunk[off] << 24) | (chunk[off + 1] << 16) | (chunk[off + 2] << 8) | chunk[off + 3]) >>> 0;
      if (length < 12 || length > MAX_LENGTH) throw new Error(`raw: bad length field ${length}`);
      if ((chunk[off + 4] | chunk[off + 5] | chunk[off + 6] | chunk[off + 7]) !== 0) throw new Error("raw: id >= 2^32");
      const id = ((chunk[off + 8] << 24) | (chunk[off + 9] << 16) | (chunk[off + 10] << 8) | chunk[off + 11]) >>> 0;
      const flags = chunk[off + 12];
      const cmd = (chunk[off + 13] << 16) | (chunk[off + 14] << 8) | chunk[off + 15];
      const payloadLength = length - 12;
      const frameEnd = off + HEADER_SIZE + payloadLength;
      if (frameEnd <= end) {
        onFrame(id, flags, cmd, payloadLength, chunk, off + HEADER_SIZE);
        off = frameEnd;
        continue;
      }
      this.#begin(id, flags, cmd, payloadLength);
      this.#payload(chunk, off + HEADER_SIZE);
      return;
    }
    if (off < end) {
      this.#head.set(chunk.subarray(off), 0);
      this.#headLen = end - off;
    }
  }

  /** Continues a split frame; returns where the rest of `chunk` starts, or -1 if all used. */
  #continue(chunk: Uint8Array): number {
    let off = 0;
    if (this.#headLen > 0) {
      const take = Math.min(HEADER_SIZE - this.#headLen, chunk.length);
      this.#head.set(chunk.subarray(0, take), this.#headLen);
      this.#headLen += take;
      if (this.#headLen < HEADER_SIZE) return -1;
      this.#headLen = 0;
      off = take;
      const h = this.#head;
      const length = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
      if (length < 12 || length > MAX_LENGTH) throw new Error(`raw: bad length field ${length}`);
      if ((h[4] | h[5] | h[6] | h[7]) !== 0) throw new Error("raw: id >= 2^32");
      const id = ((h[8] << 24) | (h[9] << 16) | (h[10] << 8) | h[11]) >>> 0;
      this.#begin(id, h[12], (h[13] << 16) | (h[14] << 8) | h[15], length - 12);
      if (length === 12) {
        this.#finish();
        return off;
      }
    }
    const used = this.#payload(chunk, off);
    return this.#rest > 0 ? -1 : used;
  }

  #begin(id: number, flags: number, cmd: number, payloadLength: number): void {
    this.#id = id;
    this.#flags = flags;
    this.#cmd = cmd;
    this.#payloadLength = payloadLength;
    this.#rest = payloadLength;
    this.#smallLen = 0;
    this.#small = payloadLength <= this.#keepUpTo ? new Uint8Array(payloadLength) : null;
  }

  /** Takes the split frame's payload bytes from `chunk` at `off`; returns the offset after them. */
  #payload(chunk: Uint8Array, off: number): number {
    const take = Math.min(this.#rest, chunk.length - off);
    if (this.#small !== null) {
      this.#small.set(chunk.subarray(off, off + take), this.#smallLen);
      this.#smallLen += take;
    }
    this.#rest -= take;
    if (this.#rest === 0) this.#finish();
    return off + take;
  }

  #finish(): void {
    const small = this.#small;
    this.#small = null;
    this.#rest = 0;
    this.#onFrame(this.#id, this.#flags, this.#cmd, this.#payloadLength, small, 0);
  }
}
