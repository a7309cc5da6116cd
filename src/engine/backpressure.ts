/**
 * Holding a sender back. With a weft peer every stream is flow-controlled: each side
 * announces a receive window, a sender waits once that much is unread on the other side
 * (SendCredit), and the receiver grants back what it reads (WINDOW_UPDATE), so a slow
 * stream stalls nothing else. With a plain qrpc peer there are no windows: a stream over
 * its high-water mark closes the read gate, and the whole connection stops reading until
 * it drains (qrpc's model).
 */
import { RpcError } from "../common/errors.ts";
import { Op } from "../wire/control.ts";
import { type RequestId, uint32Bytes } from "../wire/frame.ts";
import { FRAME_OVERHEAD, SendCredit } from "./flow_control.ts";
import { CLOSED, type Link } from "./link.ts";
import { MessageStream } from "./message_stream.ts";
import type { Sender } from "./sender.ts";

export class Backpressure {
  readonly #link: Link;
  readonly #sender: Sender;
  /** Our receive window per stream (option `streamHighWaterMark`). */
  readonly window: number;
  /** A stream that overran our window fails, and nothing else: the connection's to do. */
  readonly #overrun: (id: RequestId, error: RpcError) => void;
  /** Both ends announced a window: streams opened from now on are flow-controlled. */
  #flowControl = false;
  #peerWindow = 0;
  /** Streams over their high-water mark; while any, the read loop waits on `gate`. */
  #overfull = 0;
  /** Null while the read loop may go on; otherwise what it waits on. */
  gate: Promise<void> | null = null;
  #openGate: (() => void) | null = null;

  constructor(link: Link, sender: Sender, window: number, overrun: (id: RequestId, error: RpcError) => void) {
    this.#link = link;
    this.#sender = sender;
    this.window = window;
    this.#overrun = overrun;
  }

  /** The peer's window, from its HELLO or SETTINGS: flow control is on when both ends have one. */
  useWindows(peerWindow: number): void {
    this.#peerWindow = peerWindow;
    this.#flowControl = peerWindow > 0 && this.window > 0;
  }

  /**
   * A receive stream. Flow-controlled when its sender marked it so: the sender keeps to
   * our window, we grant read bytes back, and the read loop never waits for it. Otherwise
   * (a plain qrpc peer) it holds the read loop while over its high-water mark.
   */
  newStream(id: RequestId, flowControlled: boolean): MessageStream {
    const stream = new MessageStream(this.window, this.#onPressure);
    // The sender marks a stream only when it holds our window, so the mark alone decides.
    if (flowControlled && this.window > 0) {
      stream.useFlowControl(
        this.window,
        this.window + this.#link.maxFrameSize + 2 * FRAME_OVERHEAD,
        (bytes) => this.#grant(id, bytes),
        () => this.#windowOverrun(id),
      );
    }
    return stream;
  }

  /** Credit for a stream this side opens or replies on, when both ends do flow control. */
  newSendCredit(): SendCredit | null {
    return this.#flowControl ? new SendCredit(this.#peerWindow, this.#link) : null;
  }

  /** The connection closed: nothing waits on the gate any more. */
  release(): void {
    this.#overfull = 0;
    this.gate = null;
    this.#openGate?.();
  }

  #grant(id: RequestId, bytes: number): void {
    if (this.#link.state === CLOSED) return;
    this.#sender.control(Op.WindowUpdate, uint32Bytes(Math.min(bytes, 0xffffffff)), id);
  }

  /** The peer sent past its window on one stream: that stream fails, nothing else. */
  #windowOverrun(id: RequestId): RpcError {
    const error = new RpcError("resource_exhausted", `the peer sent past the flow-control window on stream ${id}`);
    this.#overrun(id, error);
    return error;
  }

  /** A stream over its high-water mark holds the read loop until it drains: qrpc's model. */
  readonly #onPressure = (overfull: boolean): void => {
    if (overfull) {
      if (this.#overfull++ === 0) {
        this.#link.readPauses++;
        this.gate = new Promise((resolve) => (this.#openGate = resolve));
      }
    } else if (--this.#overfull === 0) {
      this.gate = null;
      this.#openGate?.();
    }
  };
}
