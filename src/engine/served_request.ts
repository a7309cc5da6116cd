import type { Connection, IncomingRequest } from "./api.ts";
import type { Metadata } from "../wire/extensions.ts";
import { Flags } from "../wire/flags.ts";
import type { SendCredit } from "./flow_control.ts";
import type { RequestId } from "../wire/frame.ts";
import { MessageStream } from "./message_stream.ts";
import { stopTimer, type Timer } from "../common/timers.ts";

/**
 * A request being served: what its handler sees (IncomingRequest, in api.ts), and the
 * engine's bookkeeping around it (whether it finished, its place in the in-flight table, its
 * deadline timer, its reply stream's credit). Only the serving side makes them.
 */
export class ServedRequest implements IncomingRequest {
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
  /** The caller's metadata (empty from a plain qrpc peer). */
  metadata: Readonly<Metadata> = NO_METADATA;
  /** When the caller stops waiting (ms since the epoch, this host's clock), if it said. */
  deadline: number | undefined = undefined;
  /** Credit for a flow-controlled reply stream (the engine's bookkeeping). */
  sendCredit: SendCredit | null = null;
  /** Aborts the handler when the deadline passes (the engine's bookkeeping). */
  deadlineTimer: Timer | undefined = undefined;
  /** Told once when the request ends, with why if it failed (the engine's bookkeeping, for Hooks). */
  onEnd: ((error: unknown) => void) | undefined = undefined;
  #replyMetadata: Metadata | null = null;
  #trailers: Metadata | null = null;

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

  /** Metadata sent with the first reply frame: set entries before replying. (Only to a weft peer.) */
  get replyMetadata(): Metadata {
    return (this.#replyMetadata ??= {});
  }

  /** Metadata sent with the last reply frame: set entries before the reply ends. (Only to a weft peer.) */
  get trailers(): Metadata {
    return (this.#trailers ??= {});
  }

  /** What the handler set for the reply's first and last frames, if anything (the engine's bookkeeping). */
  takeReplyMetadata(): Metadata | undefined {
    const metadata = this.#replyMetadata ?? undefined;
    this.#replyMetadata = null;
    return metadata;
  }

  takeTrailers(): Metadata | undefined {
    const trailers = this.#trailers ?? undefined;
    this.#trailers = null;
    return trailers;
  }

  /** The handler answers with a stream (the engine's bookkeeping; declared, so a unary request pays nothing). */
  declare replyStreaming: boolean | undefined;

  /** True when a stream runs either way: the caller's request stream or the handler's reply stream. */
  get streaming(): boolean {
    return this.isStream || this.replyStreaming === true;
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
    this.sendCredit?.release();
    this.clearDeadline();
    if (this.onEnd !== undefined) this.ended(reason);
  }

  /** The request is over (`error`: why it failed): tells whoever watches it, once. */
  ended(error: unknown): void {
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.(error);
  }

  clearDeadline(): void {
    if (this.deadlineTimer !== undefined) {
      stopTimer(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
  }
}

const NO_METADATA: Readonly<Metadata> = Object.freeze({});
