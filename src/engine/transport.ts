import type { ByteSink, ByteSource } from "../common/byte_streams.ts";

export type { ByteReader, ByteReadResult, ByteSink, ByteSource, ByteWriter } from "../common/byte_streams.ts";

/**
 * What an adapter hands the core: a socket as a pair of byte streams.
 *
 * - `readable` yields the bytes the peer sent; it ends when the peer closes.
 *   Cancelling it closes the socket.
 * - `writable` takes bytes to send; `close()` ends the byte stream after everything
 *   queued is written (a graceful FIN), `abort()` drops the socket at once.
 *   Its writer's desiredSize is the backpressure signal the engine honours.
 *
 * A pair of Web Streams fits. The engine takes one reader and one writer and uses only the
 * members `ByteReader` and `ByteWriter` name, so an adapter may hand over something lighter
 * of that shape: on Node, a Web Stream pair with its reader and writer weighs about 8 KiB per
 * connection (adapters/node_socket_transport.ts is the light one).
 */
export interface Transport {
  readonly readable: ByteSource;
  readonly writable: ByteSink;
  /** "host:port" of the peer, for logs and errors. */
  readonly remoteAddress?: string;
  /**
   * True when a view into one of `readable`'s chunks costs more than copying a few bytes out
   * of it (Bun's socket chunks): the engine then copies a lone small frame's payload (src/wire/frame_decoder.ts).
   */
  readonly copySmallPayloads?: boolean;
}
