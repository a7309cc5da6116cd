/**
 * weft: an RPC SDK for long-lived connections, byte-compatible with qrpc.
 *
 * This module is the runtime-agnostic core. Pair it with an adapter for sockets:
 * `@weft/rpc/deno`, `@weft/rpc/bun` or `@weft/rpc/node`. Payload codecs (raw, JSON,
 * MessagePack) live in `@weft/rpc/codec`, so a bundle that needs none stays small.
 *
 * @module
 */
export { Call, type CallOptions, PendingCall } from "./src/call.ts";
export { type CloseOptions, Connection, type ConnectionOptions, type Role } from "./src/connection.ts";
export {
  type ErrorCode,
  ErrorCodes,
  codeOfResetReason,
  ProtocolError,
  resetReasonOf,
  RpcError,
} from "./src/errors.ts";
export { type CompressionFormat, DecompressionError } from "./src/compression.ts";
export { crc32 } from "./src/crc32.ts";
export { DEFAULT_MAX_METADATA_SIZE, type Metadata } from "./src/extensions.ts";
export { Flags } from "./src/flags.ts";
export {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  type Frame,
  HEADER_SIZE,
  MAX_CMD,
  type RequestId,
} from "./src/frame.ts";
export { FrameDecoder, type FrameHandler } from "./src/frame_decoder.ts";
export { FrameWriter } from "./src/frame_writer.ts";
export { IncomingRequest } from "./src/incoming_request.ts";
export { MessageStream } from "./src/message_stream.ts";
export { type Handler, type HandlerResult, Mux, type PushHandler, type PushMessage, type Reply } from "./src/mux.ts";
export { Response } from "./src/response.ts";
export { type Listener, Server, type ServerOptions } from "./src/server.ts";
export { collectBytes, concatBytes, iterateReadable, toAsyncIterator } from "./src/streams.ts";
export type { Transport } from "./src/transport.ts";
