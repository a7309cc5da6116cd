import type { Connection } from "./connection.ts";
import { Flags } from "./flags.ts";
import type { RequestId } from "./frame.ts";
import { MessageStream } from "./message_stream.ts";

/**
 * A request the peer sent, as its handler sees it.
 *
 * For a streaming request, `stream` yields every payload the caller sends, the first
 * frame's included, until the caller ends its half. For a plain request it yields
 * `payload` once, so a handler can treat both alike.
 */
export class IncomingRequest {
  readonly connection: Connection;
  readonly id: RequestId;
  /** The full 24-bit cmd; the mux routed on its low 16 bits. */
  readonly cmd: number;
  readonly flags: number;
  /** The first frame's payload. */
  readonly payload: Uint8Array;
  #stream: MessageStream | null;
  #controller: AbortController | null = null;
  #abortReason: unknown = undefined;
  /** Set once the reply is complete or the request was aborted: nothing more goes out. */
  finished = false;
  /** In the connection's in-flight table (the engine's bookkeeping). */
  tracked = false;

  constructor(
    connection: Connection,
    id: RequestId,
    flags: number,
    cmd: number,
    payload: Uint8Array,
    stream: MessageStream | null,
  ) {
    this.connection = connection;
    this.id = id;
    this.flags = flags;
    this.cmd = cmd;
    this.payload = payload;
    this.#stream = stream;
  }

  /** True when the caller opened a stream (its frames carry Stream or StreamEnd). */
  get isStream(): boolean {
    return (this.flags & (Flags.Stream | Flags.StreamEnd)) !== 0;
  }

  /** True when the caller let this request run concurrently with others (NonBlock, or a stream). */
  get isConcurrent(): boolean {
    return (this.flags & (Flags.NonBlock | Flags.Stream | Flags.StreamEnd)) !== 0;
  }

  /** The request's payloads: the caller's stream, or `payload` alone. */
  get stream(): MessageStream {
    if (this.#stream === null) {
      this.#stream = new MessageStream();
      this.#stream.push(this.payload);
      this.#stream.end();
    }
    return this.#stream;
  }

  /** Aborts when the caller cancels (reset) or the connection goes away. Made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** The caller reset the request or the connection closed: stop, and send nothing more. */
  abort(reason: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    this.#stream?.fail(reason);
  }
}
