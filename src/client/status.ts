/**
 * A channel's state, to watch: `channel.status()` is an async iterator of every change (as
 * nats.js's `status()`), and `onStatus` a callback. Each change names the endpoint it
 * concerns, what that endpoint is now, and the error that moved it, if any.
 */

/** One endpoint's connection. */
export type EndpointState =
  | "idle" // not asked to connect yet (channels connect lazily by default)
  | "connecting" // an attempt is under way
  | "ready" // connected: calls go here
  | "reconnecting" // lost or failed to connect: the next attempt is scheduled (`retryIn`)
  | "draining" // the server said goaway: its calls finish, new ones go elsewhere
  | "closed"; // removed, or the channel closed

/** The channel as a whole. */
export type ChannelState =
  | "idle" // no connection asked for yet
  | "connecting" // the first connection is being made
  | "ready" // at least one endpoint is ready
  | "reconnecting" // none is ready (any more): calls wait, up to their bound
  | "closed"; // close() was called: calls fail with `unavailable`

export interface ChannelStatus {
  /** The channel's state after this change. */
  readonly state: ChannelState;
  /** The endpoint that changed (absent when the channel itself closed). */
  readonly endpoint?: string;
  readonly endpointState?: EndpointState;
  /** Why: the connection's error, or the failed attempt's. */
  readonly error?: Error;
  /** Milliseconds to the next attempt, when reconnecting. */
  readonly retryIn?: number;
}

/** Changes kept for an iterator that is not being read; older ones are dropped. */
const BACKLOG = 256;

/** Fans status changes out to iterators and a callback. */
export class StatusFeed {
  readonly #readers = new Set<Reader>();
  #closed = false;

  emit(status: ChannelStatus): void {
    for (const reader of this.#readers) reader.push(status);
  }

  /** Ends every iterator (after what they have not read yet). */
  close(): void {
    this.#closed = true;
    for (const reader of this.#readers) reader.end();
    this.#readers.clear();
  }

  iterate(): AsyncIterableIterator<ChannelStatus> {
    const reader = new Reader(() => this.#readers.delete(reader));
    if (this.#closed) reader.end();
    else this.#readers.add(reader);
    return reader;
  }
}

class Reader implements AsyncIterableIterator<ChannelStatus> {
  readonly #queue: ChannelStatus[] = [];
  #waiting: ((step: IteratorResult<ChannelStatus>) => void) | null = null;
  #ended = false;
  readonly #leave: () => void;

  constructor(leave: () => void) {
    this.#leave = leave;
  }

  push(status: ChannelStatus): void {
    if (this.#waiting !== null) {
      const resolve = this.#waiting;
      this.#waiting = null;
      return resolve({ value: status, done: false });
    }
    if (this.#queue.length >= BACKLOG) this.#queue.shift();
    this.#queue.push(status);
  }

  end(): void {
    this.#ended = true;
    if (this.#waiting !== null) {
      const resolve = this.#waiting;
      this.#waiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<ChannelStatus>> {
    if (this.#queue.length > 0) return Promise.resolve({ value: this.#queue.shift()!, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  return(): Promise<IteratorResult<ChannelStatus>> {
    this.#leave();
    this.#queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ChannelStatus> {
    return this;
  }
}
