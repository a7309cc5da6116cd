import type { Metadata } from "../wire/extensions.ts";
import type { MessageStream } from "./message_stream.ts";
import { collectBytes } from "../common/streams.ts";
import { payloadPool } from "../common/payload_pool.ts";

/**
 * The peer's reply to a call. A plain reply has one `payload`; a streamed reply also
 * has `stream`, which yields every payload (the first one included) until the peer ends
 * its half. Either way the reply can be walked with `for await`.
 */
export class Response implements AsyncIterable<Uint8Array> {
  readonly cmd: number;
  readonly flags: number;
  /** The first reply frame's payload. */
  readonly payload: Uint8Array;
  /** The reply stream, when the peer streams its reply. */
  readonly stream: MessageStream | null;
  /** The metadata the handler sent with its first reply frame (empty from a plain qrpc peer). */
  readonly metadata: Readonly<Metadata>;
  /**
   * The metadata the handler sent with its last reply frame. For a streamed reply it is
   * filled in when the stream ends: read it after the `for await` loop.
   */
  trailers: Readonly<Metadata>;

  constructor(
    cmd: number,
    flags: number,
    payload: Uint8Array,
    stream: MessageStream | null,
    metadata: Readonly<Metadata> = NO_METADATA,
    trailers: Readonly<Metadata> = NO_METADATA,
  ) {
    this.cmd = cmd;
    this.flags = flags;
    this.payload = payload;
    this.stream = stream;
    this.metadata = metadata;
    this.trailers = trailers;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.stream ?? once(this.payload);
  }

  /** The reply's payloads as a ReadableStream. */
  get readable(): ReadableStream<Uint8Array> {
    if (this.stream !== null) return this.stream.readable;
    const payload = this.payload;
    return new ReadableStream({
      start(controller) {
        controller.enqueue(payload);
        controller.close();
      },
    });
  }

  /** Every payload of the reply, joined. */
  bytes(): Promise<Uint8Array> {
    return this.stream === null ? Promise.resolve(this.payload) : collectBytes(this.stream);
  }

  /**
   * Gives the payload's memory back for a later reply to reuse, when it was lent
   * (ConnectionOptions.lendPayloads). `payload` is empty from then on, lent or not; keep no
   * other view of it.
   */
  release(): void {
    payloadPool.giveBack(this.payload);
    (this as { payload: Uint8Array }).payload = EMPTY;
  }
}

function once(payload: Uint8Array): AsyncIterator<Uint8Array> {
  let done = false;
  return {
    next() {
      if (done) return Promise.resolve({ value: undefined, done: true });
      done = true;
      return Promise.resolve({ value: payload, done: false });
    },
  };
}

const NO_METADATA: Readonly<Metadata> = Object.freeze({});
const EMPTY = new Uint8Array(0);
