/**
 * The default broker: one process, no server. Each topic keeps its last events (by count and
 * age, `Retention`) in an array; a subscriber is a cursor into it that pulls the next event
 * when its consumer asks, so a slow consumer costs nothing but its place in the array, and one
 * that falls behind retention gets a `gap` and goes on from the oldest event kept.
 *
 * Ids are `<epoch>:<sequence>`: one sequence for the whole broker orders each topic's events
 * (and never repeats, even for a topic dropped and made again), and the epoch (random, per
 * broker) makes an id from another broker (a previous run of the process) unknown here, so
 * resuming from it says `gap` instead of skipping the events this broker numbered alike.
 */
import { RpcError } from "../common/errors.ts";
import { Bell } from "./bell.ts";
import {
  type Broker,
  type BrokerDelivery,
  type BrokerEvent,
  DEFAULT_RETENTION,
  type Retention,
  type SubscribeOptions,
  type BrokerSubscription,
} from "./broker.ts";

interface Stored {
  readonly sequence: number;
  readonly event: BrokerEvent;
  readonly at: number;
}

/** A topic's retained events and the subscribers waiting for the next. */
class Topic {
  /** Retained events, oldest first. */
  readonly events: Stored[] = [];
  /** Events up to this sequence may have been dropped (or published before this topic was made here). */
  trimmed: number;
  readonly bell = new Bell();
  subscribers = 0;

  readonly name: string;

  constructor(name: string, trimmed: number) {
    this.name = name;
    this.trimmed = trimmed;
  }

  /** The index of the first event after `sequence` (events.length when none). */
  after(sequence: number): number {
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.events[middle].sequence <= sequence) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  trim(retention: Required<Retention>, now: number): void {
    let drop = Math.max(0, this.events.length - retention.maxEvents);
    while (drop < this.events.length && now - this.events[drop].at > retention.maxAgeMs) drop++;
    if (drop === 0) return;
    this.trimmed = this.events[drop - 1].sequence;
    this.events.splice(0, drop);
  }
}

/** Options of `MemoryBroker`. */
export interface MemoryBrokerOptions {
  /** What each topic keeps for subscribers that catch up (default 1000 events, 10 minutes). */
  readonly retention?: Retention;
}

/** A `Broker` within one process. */
export class MemoryBroker implements Broker {
  readonly #retention: Required<Retention>;
  readonly #epoch = Math.random().toString(36).slice(2, 10);
  readonly #topics = new Map<string, Topic>();
  readonly #closing = new AbortController();
  #sequence = 0;
  #swept = Date.now();

  constructor(options: MemoryBrokerOptions = {}) {
    this.#retention = { ...DEFAULT_RETENTION, ...options.retention };
  }

  publish(topic: string, data: Uint8Array): Promise<string> {
    if (this.#closing.signal.aborted) return Promise.reject(new RpcError("unavailable", "the broker is closed"));
    const state = this.#topic(topic);
    const sequence = ++this.#sequence;
    const id = `${this.#epoch}:${sequence}`;
    const now = Date.now();
    state.events.push({ sequence, event: { kind: "event", id, topic, data }, at: now });
    state.trim(this.#retention, now);
    state.bell.ring();
    this.#sweep(now);
    return Promise.resolve(id);
  }

  subscribe(topic: string, options: SubscribeOptions = {}): BrokerSubscription {
    const signal = options.signal === undefined ? this.#closing.signal : AbortSignal.any([options.signal, this.#closing.signal]);
    const state = this.#topic(topic);
    state.subscribers++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      signal.removeEventListener("abort", release);
      state.subscribers--;
      this.#forget(topic, state);
    };
    signal.addEventListener("abort", release, { once: true });
    // The starting point is taken now, so whatever is published after subscribe() returns is delivered.
    let cursor = this.#sequence; // the sequence of the last event this subscriber has
    let after: string | undefined; // set when the next event might not follow `cursor`
    if (options.lastEventId !== undefined) {
      const known = this.#sequenceOf(options.lastEventId);
      if (known !== undefined && known <= this.#sequence) cursor = known;
      else {
        cursor = state.trimmed;
        after = options.lastEventId;
      }
    }
    const deliveries = this.#deliveries(state, cursor, after, signal, release);
    return { ready: Promise.resolve(), [Symbol.asyncIterator]: () => deliveries };
  }

  close(): Promise<void> {
    this.#closing.abort();
    this.#topics.clear();
    return Promise.resolve();
  }

  async *#deliveries(
    state: Topic,
    cursor: number,
    after: string | undefined,
    signal: AbortSignal,
    release: () => void,
  ): AsyncGenerator<BrokerDelivery> {
    try {
      while (!signal.aborted) {
        state.trim(this.#retention, Date.now());
        if (cursor < state.trimmed) {
          after ??= `${this.#epoch}:${cursor}`;
          cursor = state.trimmed;
        }
        if (after !== undefined) {
          yield { kind: "gap", topic: state.name, after };
          after = undefined;
          continue;
        }
        const next = state.events[state.after(cursor)];
        if (next !== undefined) {
          cursor = next.sequence;
          yield next.event;
          continue;
        }
        await state.bell.wait(signal);
      }
    } finally {
      release();
    }
  }

  #topic(topic: string): Topic {
    let state = this.#topics.get(topic);
    if (state === undefined) {
      state = new Topic(topic, this.#sequence);
      this.#topics.set(topic, state);
    }
    return state;
  }

  /** A topic nobody listens to and that holds nothing is dropped, so topics do not pile up. */
  #forget(topic: string, state: Topic): void {
    if (state.subscribers === 0 && state.events.length === 0 && this.#topics.get(topic) === state) this.#topics.delete(topic);
  }

  /** Now and then (at most once a minute, or per maxAgeMs), topics nobody published to lately are trimmed and dropped. */
  #sweep(now: number): void {
    if (now - this.#swept < Math.min(this.#retention.maxAgeMs, 60_000)) return;
    this.#swept = now;
    for (const [topic, state] of this.#topics) {
      state.trim(this.#retention, now);
      this.#forget(topic, state);
    }
  }

  #sequenceOf(id: string): number | undefined {
    const [epoch, sequence] = id.split(":");
    const n = Number(sequence);
    return epoch === this.#epoch && Number.isSafeInteger(n) ? n : undefined;
  }
}
