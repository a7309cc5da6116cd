import { FRAME_OVERHEAD } from "./flow_control.ts";
import { collectBytes, readableFrom } from "../common/streams.ts";

/** Told when a stream's unread backlog crosses its high-water mark (true) or drains (false). */
export type PressureListener = (overfull: boolean) => void;

const OPEN = 0;
/** The sender ended its half: the consumer sees the end after the queued payloads. */
const ENDED = 1;
/** The sender's half failed (reset, connection lost). */
const FAILED = 2;
/** The consumer stopped reading; later payloads are dropped. */
const CANCELLED = 3;

/**
 * The receiving half of a stream: the payloads of the peer's frames, in order, for one
 * consumer, as an async iterator (`for await`) or as a ReadableStream (`.readable`).
 *
 * The connection pushes payloads in; the consumer pulls them out. When more than
 * `highWaterMark` bytes wait unread the pressure listener hears `true`, so the connection
 * can stop reading the socket; it hears `false` once half of that backlog is read.
 */
export class MessageStream implements AsyncIterableIterator<Uint8Array> {
  #queue: Uint8Array[] = [];
  #head = 0;
  #bufferedBytes = 0;
  #state = OPEN;
  #error: unknown = undefined;
  #waiter: ((result: IteratorResult<Uint8Array>) => void) | null = null;
  #failWaiter: ((error: unknown) => void) | null = null;
  #highWaterMark: number;
  #onPressure: PressureListener | null;
  #overfull = false;
  #readable: ReadableStream<Uint8Array> | null = null;
  #flow: ReceiveWindow | null = null;

  /** Called when the consumer stops early (break, return, cancel). */
  onCancel: ((reason: unknown) => void) | null = null;

  constructor(highWaterMark = 1024 * 1024, onPressure: PressureListener | null = null) {
    this.#highWaterMark = highWaterMark;
    this.#onPressure = onPressure;
  }

  /**
   * Switches the stream to per-stream flow control (the sender keeps to `window`): the
   * connection never has to stop reading for it. Read bytes are granted back through
   * `onGrant` in steps of half the window; a sender that overruns `limit` unread bytes
   * makes `onOverflow` fire and the stream fail with its error.
   */
  useFlowControl(window: number, limit: number, onGrant: (bytes: number) => void, onOverflow: () => unknown): void {
    this.#flow = { step: Math.max(1, Math.floor(window / 2)), limit, unread: 0, toGrant: 0, onGrant, onOverflow };
  }

  /** Bytes received and not read yet. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** True once nothing more will be accepted: the sender ended or failed, or the consumer cancelled. */
  get closed(): boolean {
    return this.#state !== OPEN;
  }

  /** True once the sender's half is over (ended or failed), as opposed to cancelled by the consumer. */
  get senderDone(): boolean {
    return this.#state === ENDED || this.#state === FAILED;
  }

  /** Delivers a payload (dropped once the stream is closed). */
  push(payload: Uint8Array): void {
    if (this.#state !== OPEN) return;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = this.#failWaiter = null;
      if (this.#flow !== null) this.#consumed(this.#flow, payload.length);
      waiter({ value: payload, done: false });
      return;
    }
    this.#queue.push(payload);
    this.#bufferedBytes += payload.length;
    const flow = this.#flow;
    if (flow !== null) {
      flow.unread += payload.length + FRAME_OVERHEAD;
      if (flow.unread > flow.limit) this.fail(flow.onOverflow());
    } else if (!this.#overfull && this.#bufferedBytes > this.#highWaterMark) this.#setOverfull(true);
  }

  /** The sender's half ended cleanly. */
  end(): void {
    if (this.#state !== OPEN) return;
    this.#state = ENDED;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = this.#failWaiter = null;
      waiter({ value: undefined, done: true });
    }
  }

  /** The stream failed: the consumer gets `error` after the queued payloads. */
  fail(error: unknown): void {
    if (this.#state !== OPEN) return;
    this.#state = FAILED;
    this.#error = error;
    const failWaiter = this.#failWaiter;
    if (failWaiter !== null) {
      this.#waiter = this.#failWaiter = null;
      failWaiter(error);
    }
    if (this.#overfull) this.#setOverfull(false);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head];
      this.#queue[this.#head++] = EMPTY;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      this.#bufferedBytes -= value.length;
      if (this.#flow !== null) {
        this.#flow.unread -= value.length + FRAME_OVERHEAD;
        this.#consumed(this.#flow, value.length);
      }
      if (this.#overfull && this.#bufferedBytes <= this.#highWaterMark / 2) this.#setOverfull(false);
      return Promise.resolve({ value, done: false });
    }
    if (this.#state === FAILED) return Promise.reject(this.#error);
    if (this.#state !== OPEN) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter !== null) return Promise.reject(new TypeError("a MessageStream has a single reader"));
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  /** The consumer is done reading (a `break` in `for await` lands here). */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Stops reading: unread payloads are dropped and the owner is told (it may reset the sender). */
  cancel(reason?: unknown): void {
    const wasOpen = this.#state === OPEN;
    this.#queue = [];
    this.#head = 0;
    this.#bufferedBytes = 0;
    if (this.#overfull) this.#setOverfull(false);
    if (!wasOpen) return;
    this.#state = CANCELLED;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = this.#failWaiter = null;
      waiter({ value: undefined, done: true });
    }
    this.onCancel?.(reason);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The same stream as a ReadableStream, for `pipeTo` and friends. Made on first use. */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= readableFrom(() => this, (reason) => this.cancel(reason));
    return this.#readable;
  }

  /** Reads the rest of the stream into one buffer. */
  bytes(): Promise<Uint8Array> {
    return collectBytes(this);
  }

  /** Grants read bytes back to the sender once they add up to half the window. */
  #consumed(flow: ReceiveWindow, payloadSize: number): void {
    if (this.#state !== OPEN) return; // the sender is done: nothing to grant
    flow.toGrant += payloadSize + FRAME_OVERHEAD;
    if (flow.toGrant >= flow.step) {
      const bytes = flow.toGrant;
      flow.toGrant = 0;
      flow.onGrant(bytes);
    }
  }

  #setOverfull(overfull: boolean): void {
    this.#overfull = overfull;
    this.#onPressure?.(overfull);
  }
}

const EMPTY = new Uint8Array(0);

/** The receiving half of per-stream flow control. */
interface ReceiveWindow {
  /** Grant read bytes back in steps of this many. */
  step: number;
  /** Unread bytes (frame costs) past which the sender broke the window. */
  limit: number;
  unread: number;
  toGrant: number;
  onGrant: (bytes: number) => void;
  onOverflow: () => unknown;
}
