import { ProtocolError } from "../common/errors.ts";
import { HEADER_SIZE, MIN_LENGTH, readRequestId, readUint32, type RequestId } from "./frame.ts";

/** Called once per decoded frame. `payload` is a view: copy it to keep it past the chunk's life. */
export type FrameHandler = (id: RequestId, flags: number, cmd: number, payload: Uint8Array) => void;

/**
 * Turns a byte stream, chunk by chunk, into frames.
 *
 * Frames wholly inside a chunk are handed out as views into that chunk: no copy. A frame
 * split across chunks is assembled once, into a buffer of exactly its size, when its last
 * byte arrives; until then the decoder only keeps references to the pieces.
 */
export class FrameDecoder {
  readonly maxFrameSize: number;
  /** Pieces of a frame that is not complete yet. */
  #pieces: Uint8Array[] = [];
  #pieceBytes = 0;

  constructor(maxFrameSize: number) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.#pieceBytes;
  }

  /**
   * Decodes the complete frames in `chunk` (plus what earlier chunks left over), at most
   * `maxFrames` of them, and returns how many bytes of `chunk` it consumed: less than its
   * length only when it stopped at `maxFrames`, and then the caller passes the rest later.
   * Throws ProtocolError on a bad length; the stream is unusable after that.
   */
  decode(chunk: Uint8Array, onFrame: FrameHandler, maxFrames = Infinity): number {
    let offset = 0;
    if (this.#pieceBytes > 0) {
      offset = this.#completePartial(chunk, onFrame);
      if (offset < 0) return chunk.length;
    }
    const end = chunk.length;
    let frames = 0;
    while (end - offset >= 4) {
      if (frames++ === maxFrames) return offset;
      const length = this.#checkedLength(readUint32(chunk, offset));
      const frameEnd = offset + 4 + length;
      if (frameEnd > end) break;
      onFrame(
        readRequestId(chunk, offset + 4),
        chunk[offset + 12],
        (chunk[offset + 13] << 16) | (chunk[offset + 14] << 8) | chunk[offset + 15],
        // A view built directly: V8 makes it about twice as fast as subarray().
        new Uint8Array(chunk.buffer, chunk.byteOffset + offset + HEADER_SIZE, length - 12),
      );
      offset = frameEnd;
    }
    if (offset < end) this.#keep(chunk.subarray(offset));
    return end;
  }

  /**
   * Adds `chunk` to the frame in progress. Returns where the rest of the chunk starts once
   * that frame is complete and handed out, or -1 when the chunk was all swallowed.
   */
  #completePartial(chunk: Uint8Array, onFrame: FrameHandler): number {
    if (this.#pieceBytes < 4) {
      if (this.#pieceBytes + chunk.length < 4) {
        this.#keep(chunk);
        return -1;
      }
    }
    const length = this.#checkedLength(this.#partialLength(chunk));
    const total = 4 + length;
    const missing = total - this.#pieceBytes;
    if (chunk.length < missing) {
      this.#keep(chunk);
      return -1;
    }
    const frame = new Uint8Array(total);
    let at = 0;
    for (const piece of this.#pieces) {
      frame.set(piece, at);
      at += piece.length;
    }
    frame.set(chunk.subarray(0, missing), at);
    this.#pieces = [];
    this.#pieceBytes = 0;
    onFrame(
      readRequestId(frame, 4),
      frame[12],
      (frame[13] << 16) | (frame[14] << 8) | frame[15],
      frame.subarray(HEADER_SIZE),
    );
    return missing;
  }

  /** The length field of the frame in progress, whose first bytes may span pieces and `next`. */
  #partialLength(next: Uint8Array): number {
    let length = 0;
    let taken = 0;
    for (const piece of this.#pieces) {
      for (let i = 0; i < piece.length && taken < 4; i++, taken++) length = length * 256 + piece[i];
    }
    for (let i = 0; taken < 4; i++, taken++) length = length * 256 + next[i];
    return length;
  }

  #keep(piece: Uint8Array): void {
    this.#pieces.push(piece);
    this.#pieceBytes += piece.length;
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
