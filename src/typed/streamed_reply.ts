/**
 * A reply stream's outputs as a typed call yields them: each frame decoded (and checked
 * against the contract, when the client has one) as it is read. A tracked reply's frames
 * carry ids (tracked.ts): the id of the last item handed out is kept, to resume after it.
 */
import type { Response } from "../engine/response.ts";
import { readIdPrefix, TRACKED_KEY } from "./tracked.ts";

const ignore = () => {};

/** A reply stream's outputs, decoded and checked as they are read. */
export class StreamedReply {
  readonly response: Response;
  /** Settles when the stream has been read to its end (or failed): trailers are in then. */
  readonly ended: Promise<void>;
  /** The handler tagged its items with ids: the stream can be resumed. */
  readonly tracked: boolean;
  /** The id of the last item handed out (a tracked reply's), if any. */
  lastEventId: string | undefined = undefined;
  /** Items handed out so far. */
  delivered = 0;
  readonly #decode: (bytes: Uint8Array) => unknown;
  #ended: () => void = ignore;

  constructor(response: Response, decode: (bytes: Uint8Array) => unknown) {
    this.response = response;
    this.#decode = decode;
    this.tracked = response.metadata[TRACKED_KEY] === "1";
    this.ended = new Promise((resolve) => (this.#ended = resolve));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    try {
      for await (let bytes of this.response) {
        if (bytes.length === 0) continue; // qrpc ends a stream with an empty frame
        let id = "";
        if (this.tracked) {
          const prefix = readIdPrefix(bytes);
          id = prefix.id;
          bytes = bytes.subarray(prefix.offset);
        }
        const item = await this.#decode(bytes);
        if (id !== "") this.lastEventId = id;
        this.delivered++;
        yield item;
      }
    } finally {
      this.#ended();
    }
  }
}
