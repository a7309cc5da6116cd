/**
 * When a server stops reading one connection, for its own sake: while more than
 * `maxUnsentBytes` it wrote there are not taken by the peer (as HTTP/2 servers do), and while
 * the connection is over its `maxFramesPerSecond` / `maxBytesPerSecond` (rate_limit.ts).
 * Only a server paces: a client always reads, since two ends each waiting for the other to
 * read would wait forever. Checked after each slice of frames the read loop decodes, so a
 * chunk of many frames is paced too.
 */
import type { FrameWriter } from "../wire/frame_writer.ts";
import type { Liveness } from "./liveness.ts";
import { type ConnectionOptions, maxUnsentBytes } from "./options.ts";
import { RateLimit } from "./rate_limit.ts";

export class ReadPacing {
  readonly #writer: FrameWriter;
  readonly #maxUnsent: number;
  readonly #rateLimit: RateLimit | null;
  /** While waiting for the peer to take our bytes, each write it takes is a sign of life. */
  readonly #heard: () => void;

  constructor(writer: FrameWriter, liveness: Liveness, options: ConnectionOptions) {
    this.#writer = writer;
    this.#maxUnsent = maxUnsentBytes(options);
    this.#rateLimit = RateLimit.from(options);
    this.#heard = () => liveness.heard();
  }

  /** Waits, if this slice (`bytes` long, the decoder now at `framesTotal` frames) calls for it. */
  async afterSlice(framesTotal: number, bytes: number): Promise<void> {
    const writer = this.#writer;
    if (writer.unsent > this.#maxUnsent) await writer.drained(this.#maxUnsent / 2, this.#heard);
    const rateLimit = this.#rateLimit;
    if (rateLimit !== null && rateLimit.spend(framesTotal, bytes) > 0) await rateLimit.pause();
  }

  /** True when the slice needs `afterSlice` (the common case skips the async call). */
  due(): boolean {
    return this.#writer.unsent > this.#maxUnsent || this.#rateLimit !== null;
  }
}
