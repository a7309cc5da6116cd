/**
 * wire: qrpc's bytes and weft's additions to them, with no notion of a call. The 16-byte
 * header and its flags, frames from bytes (decoder) and to bytes (writer, splitter),
 * weft's control frames and the per-call extension block, CRC-32 and payload compression.
 * Every byte is in docs/PROTOCOL.md. May import `common/` only.
 *
 * @module
 */
export { type CompressionFormat, DecompressionError } from "./compression.ts";
export { crc32 } from "./crc32.ts";
export { DEFAULT_MAX_METADATA_SIZE, type Metadata } from "./extensions.ts";
export { Flags } from "./flags.ts";
export {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  type Frame,
  HEADER_SIZE,
  MAX_CMD,
  type RequestId,
} from "./frame.ts";
export { FrameDecoder, type FrameHandler } from "./frame_decoder.ts";
export { FrameWriter } from "./frame_writer.ts";
