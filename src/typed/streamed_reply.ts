/**
 * A reply stream's outputs as a typed call yields them: each frame decoded (and checked
 * against the contract, when the client has one) as it is read.
 */
import type { Response } from "../engine/response.ts";

const ignore = () => {};

/** A reply stream's outputs, decoded and checked as they are read. */
export class StreamedReply {
  readonly response: Response;
  /** Settles when the stream has been read to its end (or failed): trailers are in then. */
  readonly ended: Promise<void>;
  readonly #decode: (bytes: Uint8Array) => unknown;
  #ended: () => void = ignore;

  constructor(response: Response, decode: (bytes: Uint8Array) => unknown) {
    this.response = response;
    this.#decode = decode;
    this.ended = new Promise((resolve) => (this.#ended = resolve));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    try {
      for await (const bytes of this.response) {
        if (bytes.length === 0) continue; // qrpc ends a stream with an empty frame
        yield await this.#decode(bytes);
      }
    } finally {
      this.#ended();
    }
  }
}
