/**
 * The shapes of a byte stream that weft's engine and frame writer use: one reader of a
 * ReadableStream<Uint8Array> and one writer of a WritableStream<Uint8Array>, only the members
 * below. Web Streams fit them as they are; an adapter may hand over something lighter
 * (see engine/transport.ts).
 */

/** What a read gives: a chunk, or the end (a Web Stream's read result fits; no DOM types needed). */
export type ByteReadResult = { readonly done: false; readonly value: Uint8Array } | {
  readonly done: true;
  readonly value?: Uint8Array | undefined;
};

/** What weft uses of a ReadableStream<Uint8Array>. */
export interface ByteSource {
  getReader(): ByteReader;
}

/** What weft uses of its reader. */
export interface ByteReader {
  /** The next chunk; `done` once the peer closed. Rejects when the socket failed. */
  read(): Promise<ByteReadResult>;
  /** Closes the socket; reads end. */
  cancel(reason?: unknown): Promise<void>;
  /**
   * Optional: the engine copied all of `chunk` (the last one read) into a frame it is
   * assembling and kept no view of it, so a later read may reuse its memory.
   */
  reuse?(chunk: Uint8Array): void;
}

/** What weft uses of a WritableStream<Uint8Array>. */
export interface ByteSink {
  getWriter(): ByteWriter;
}

/** What weft uses of its writer. */
export interface ByteWriter {
  /** At most 0 while the socket has all it should hold: the engine stops producing. */
  readonly desiredSize: number | null;
  /** Resolves when desiredSize is positive again. */
  readonly ready: Promise<void>;
  /** Settles, in order, when the chunk is handed on; rejects when the socket failed. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Optional: runs `writes` (several `write` calls) so that their chunks leave in one system
   * call where the socket can (a frame's header and its large payload, say).
   */
  cork?(writes: () => void): void;
  /**
   * Optional: calls `sent` once every chunk written before this call has left the process's
   * hands (the kernel has its bytes), so their buffers may be reused. Never calls it when
   * the socket fails first. Without it, lent payloads are never reused on this transport
   * (ConnectionOptions.lendPayloads).
   */
  whenSent?(sent: () => void): void;
  /** Everything written goes out, then the byte stream ends. */
  close(): Promise<void>;
  /** Drops the socket and whatever waits. */
  abort(reason?: unknown): Promise<void>;
}
