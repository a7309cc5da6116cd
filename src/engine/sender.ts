/**
 * Every frame a connection sends leaves through here: call frames (requests, replies,
 * stream frames, pushes) with their extension block when the peer reads blocks, compressed
 * and checksummed once both ends agreed to; resets with the error's words for a weft peer;
 * and weft's control frames.
 */
import { encodeResetBody, type ErrorCode, resetReasonOf } from "../common/errors.ts";
import { compress, type CompressionFormat } from "../wire/compression.ts";
import { WeftFlags } from "../wire/control.ts";
import { crc32 } from "../wire/crc32.ts";
import { encodeExtensions, type Extensions, hasExtensions } from "../wire/extensions.ts";
import { Flags, STREAM_BITS } from "../wire/flags.ts";
import type { RequestId } from "../wire/frame.ts";
import type { FrameWriter, LaterFrame } from "../wire/frame_writer.ts";
import { CLOSED, type Link } from "./link.ts";

const EMPTY = new Uint8Array(0);

export class Sender {
  readonly #link: Link;
  readonly #writer: FrameWriter;
  /** Payloads smaller than this are never compressed. */
  readonly #threshold: number;
  /** The agreed compression format, or null. */
  compression: CompressionFormat | null = null;
  /** Both ends agreed to checksum every call frame. */
  checksum = false;
  /** Compression or checksums agreed: call frames take the slow path. */
  #transforming = false;

  constructor(link: Link, compressionThreshold: number) {
    this.#link = link;
    this.#writer = link.writer;
    this.#threshold = compressionThreshold;
  }

  /** From SETTINGS on, both ends compress and checksum as agreed. */
  useTransforms(compression: CompressionFormat | null, checksum: boolean): void {
    this.compression = compression;
    this.checksum = checksum;
    this.#transforming = compression !== null || checksum;
  }

  /** A call frame: with its block when it has one and the peer reads blocks. */
  send(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    if ((flags & STREAM_BITS) !== 0) this.#link.streamFramesWritten++;
    if (this.#transforming) return this.#sendTransformed(id, flags, cmd, payload, ext);
    if (ext !== undefined && this.#link.extended && hasExtensions(ext)) {
      this.#writer.writeWithPrefix(id, flags | WeftFlags.Extended, cmd, encodeExtensions(ext), payload);
    } else {
      this.#writer.write(id, flags, cmd, payload);
    }
  }

  /** A weft control frame (nothing once the connection is closed). */
  control(op: number, payload: Uint8Array, id: RequestId = 0): void {
    if (this.#link.state !== CLOSED) this.#writer.write(id, WeftFlags.Control, op, payload);
  }

  /** A reset of exchange `id` with `code`'s reason; a weft peer also reads `message` and `details`. */
  reset(id: RequestId, code: ErrorCode, message?: string, details?: unknown, unprocessed = false): void {
    const body = message === undefined ? EMPTY : this.resetBody(message, details, unprocessed);
    this.#writer.write(id, Flags.StreamRst, resetReasonOf(code), body);
  }

  /**
   * A reset's body: the error's words for a weft peer, nothing for plain qrpc (its resets
   * are empty). Sent as soon as the peer has shown weft, before the version is settled:
   * HELLO always reaches a client before any reply, and the body's format is the same in
   * every version.
   */
  resetBody(message: string, details: unknown, unprocessed = false): Uint8Array {
    return this.#link.weftPeer ? encodeResetBody(message, details, unprocessed) : EMPTY;
  }

  #sendTransformed(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    const writer = this.#writer;
    const format = this.compression;
    if (format === null || payload.length < this.#threshold) {
      const made = this.#finishFrame(flags, payload, ext);
      if (made.prefix === null) writer.write(id, made.flags, cmd, made.payload);
      else writer.writeWithPrefix(id, made.flags, cmd, made.prefix, made.payload);
      return;
    }
    // Compression is asynchronous: the writer holds the frames after this one until it is done.
    const made = compress(payload, format).then(
      (packed) => packed.length < payload.length
        ? this.#finishFrame(flags | Flags.Codec, packed, ext)
        : this.#finishFrame(flags, payload, ext), // it would not shrink: sent as it is (qrpc's rule)
      () => this.#finishFrame(flags, payload, ext),
    );
    writer.writeLater(id, cmd, made);
  }

  /** A frame's final flags, block and payload: the checksum covers the payload as sent. */
  #finishFrame(flags: number, payload: Uint8Array, ext: Extensions | undefined): LaterFrame {
    if (this.checksum) ext = { ...ext, checksum: crc32(payload) };
    if (ext === undefined || !hasExtensions(ext)) return { flags, prefix: null, payload };
    return { flags: flags | WeftFlags.Extended, prefix: encodeExtensions(ext), payload };
  }
}
