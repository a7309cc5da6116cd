import { ProtocolError } from "../common/errors.ts";
import { DEFAULT_MAX_FRAME_SIZE, MIN_LENGTH, readUint32 } from "./frame.ts";

/**
 * Cuts a byte stream of whole frames back into one frame per piece: what qrpc's WebSocket
 * bridge and weft's HTTP fallback need, since a message (or a response chunk) must hold
 * exactly one frame.
 *
 * The engine's FrameWriter coalesces many frames into one chunk and sends a big payload
 * as its own chunk after its header. So a frame that lies whole inside a chunk is emitted
 * as a view (no copy); only a frame cut across chunks is assembled into a buffer of its own.
 */
export class FrameSplitter {
  readonly #emit: (frame: Uint8Array) => void;
  /** The frame being assembled across chunks, and how much of it has arrived. */
  #partial: Uint8Array | null = null;
  #filled = 0;
  /** Header bytes of a frame whose length field was itself cut across chunks. */
  #head = new Uint8Array(4);
  #headFilled = 0;

  readonly #maxFrameSize: number;

  /** A length field outside 12..maxFrameSize throws a ProtocolError from `push`. */
  constructor(emit: (frame: Uint8Array) => void, maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.#emit = emit;
    this.#maxFrameSize = maxFrameSize;
  }

  /** True while part of a frame waits for the rest. */
  get pending(): boolean {
    return this.#partial !== null || this.#headFilled > 0;
  }

  /** Takes the next chunk of the stream; emits every frame it completes, in order. */
  push(chunk: Uint8Array): void {
    let at = 0;
    if (this.pending) at = this.#continue(chunk);
    while (at < chunk.length) {
      const left = chunk.length - at;
      if (left < 4) {
        this.#head.set(chunk.subarray(at), 0);
        this.#headFilled = left;
        return;
      }
      const size = frameSize(readUint32(chunk, at), this.#maxFrameSize);
      if (size <= left) {
        this.#emit(chunk.subarray(at, at + size));
        at += size;
      } else {
        this.#partial = new Uint8Array(size);
        this.#partial.set(chunk.subarray(at), 0);
        this.#filled = left;
        return;
      }
    }
  }

  /** Feeds the start of `chunk` to the frame left over from earlier; returns bytes used. */
  #continue(chunk: Uint8Array): number {
    let at = 0;
    if (this.#partial === null) {
      const need = 4 - this.#headFilled;
      const take = Math.min(need, chunk.length);
      this.#head.set(chunk.subarray(0, take), this.#headFilled);
      this.#headFilled += take;
      if (this.#headFilled < 4) return chunk.length;
      this.#partial = new Uint8Array(frameSize(readUint32(this.#head, 0), this.#maxFrameSize));
      this.#partial.set(this.#head, 0);
      this.#filled = 4;
      this.#headFilled = 0;
      at = take;
    }
    const partial = this.#partial;
    const take = Math.min(partial.length - this.#filled, chunk.length - at);
    partial.set(chunk.subarray(at, at + take), this.#filled);
    this.#filled += take;
    if (this.#filled === partial.length) {
      this.#partial = null;
      this.#emit(partial);
    }
    return at + take;
  }
}

/** A frame's whole size from its length field (which counts the bytes after itself). */
function frameSize(length: number, maxFrameSize: number): number {
  if (length < MIN_LENGTH || length > maxFrameSize) {
    throw new ProtocolError(`frame length ${length} outside ${MIN_LENGTH}..${maxFrameSize}`);
  }
  return 4 + length;
}
