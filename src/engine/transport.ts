/**
 * What an adapter hands the core: a socket as a pair of Web Streams.
 *
 * - `readable` yields the bytes the peer sent; it ends when the peer closes.
 *   Cancelling it closes the socket.
 * - `writable` takes bytes to send; `close()` ends the byte stream after everything
 *   queued is written (a graceful FIN), `abort()` drops the socket at once.
 *   Its queue's desiredSize is the backpressure signal the engine honours.
 */
export interface Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** "host:port" of the peer, for logs and errors. */
  readonly remoteAddress?: string;
}
