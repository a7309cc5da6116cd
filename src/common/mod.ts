/**
 * common: what every layer may use, and what imports nothing of weft's: errors and their
 * codes (`RpcError`, `ProtocolError`, reset reasons), Web Streams helpers and the byte-stream
 * shapes a transport hands over, timers for
 * user-given durations, and the slab small payloads are carved from.
 *
 * @module
 */
export {
  type ErrorCode,
  ErrorCodes,
  codeOfResetReason,
  ProtocolError,
  resetReasonOf,
  retryAfterOf,
  RpcError,
  type RpcErrorOptions,
} from "./errors.ts";
export { TokenBucket } from "./token_bucket.ts";
export type { ByteReader, ByteReadResult, ByteSink, ByteSource, ByteWriter } from "./byte_streams.ts";
export { ChunkQueue } from "./chunk_queue.ts";
export { collectBytes, concatBytes, iterateReadable, toAsyncIterator } from "./streams.ts";
