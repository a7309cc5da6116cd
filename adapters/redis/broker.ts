/**
 * A `Broker` on Redis Streams: a topic is a stream (`<prefix>broker:<topic>`), an event is an
 * entry whose id is the stream id, retention is the stream's trimming (MAXLEN ~ and MINID ~,
 * scripts.ts), and every subscription of the process shares one blocking XREAD
 * (stream_reader.ts). Two connections: one for commands, one that blocks.
 *
 * While Redis is unreachable: `publish` fails at once with `unavailable` (nothing is buffered;
 * the caller decides), subscriptions wait and then go on from their last event, and a new
 * subscription without `lastEventId` starts from the stream's end as Redis has it when it is
 * back. What Redis did not keep through its outage (a restart without persistence) reaches a
 * subscriber that was behind as a `gap`.
 */
import { Buffer } from "node:buffer";
import { Bell } from "../../src/cluster/bell.ts";
import {
  type Broker,
  type BrokerDelivery,
  DEFAULT_RETENTION,
  type Retention,
  type SubscribeOptions,
  type BrokerSubscription,
} from "../../src/cluster/broker.ts";
import { RpcError } from "../../src/common/errors.ts";
import {
  dropConnection,
  isStreamId,
  connectPair,
  pause,
  type RedisConnection,
  type RedisConnectionOptions,
  unavailable,
} from "./connection.ts";
import { PUBLISH } from "./scripts.ts";
import { type Cursor, StreamReader } from "./stream_reader.ts";

/** Options of `redisBroker`. */
export interface RedisBrokerOptions extends RedisConnectionOptions {
  /** What each topic's stream keeps for subscribers that catch up (default 1000 events, 10 minutes). */
  readonly retention?: Retention;
  /** Deliveries a subscription may have waiting for its consumer before reading for it pauses (default 1000). */
  readonly maxQueued?: number;
}

/** A `Broker` on Redis Streams; `redisBroker()` makes one. */
export class RedisBroker implements Broker {
  readonly #commands: RedisConnection;
  readonly #blocking: RedisConnection;
  readonly #reader: StreamReader;
  readonly #retention: Required<Retention>;
  readonly #prefix: string;
  readonly #closing = new AbortController();

  /** Use `redisBroker()`, which connects first. */
  constructor(options: RedisBrokerOptions, commands: RedisConnection, blocking: RedisConnection) {
    this.#commands = commands;
    this.#blocking = blocking;
    this.#retention = { ...DEFAULT_RETENTION, ...options.retention };
    this.#prefix = `${options.prefix ?? "weft:"}broker:`;
    const onError = options.onError ?? (() => {});
    this.#reader = new StreamReader(blocking, commands, { batch: 100, maxQueued: options.maxQueued ?? 1000, blockMs: 2000, onError });
  }

  async publish(topic: string, data: Uint8Array): Promise<string> {
    if (this.#closing.signal.aborted) throw new RpcError("unavailable", "the broker is closed");
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const { maxEvents, maxAgeMs } = this.#retention;
    try {
      const ageMs = Number.isFinite(maxAgeMs) ? Math.max(1, Math.round(maxAgeMs)) : 0;
      return String(await PUBLISH.run(this.#commands, [this.#prefix + topic], [bytes, String(maxEvents), String(ageMs)]));
    } catch (error) {
      throw unavailable(`could not publish on ${topic}`, error);
    }
  }

  subscribe(topic: string, options: SubscribeOptions = {}): BrokerSubscription {
    const signal = options.signal === undefined ? this.#closing.signal : AbortSignal.any([options.signal, this.#closing.signal]);
    const cursor: Cursor = { topic, key: this.#prefix + topic, id: "0-0", queue: [], bell: new Bell() };
    const ready = this.#start(cursor, options.lastEventId, signal);
    const deliveries = this.#deliveries(cursor, ready, signal);
    return { ready: ready.then(() => {}), [Symbol.asyncIterator]: () => deliveries };
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    dropConnection(this.#blocking);
    await this.#reader.close();
    dropConnection(this.#commands);
  }

  /** Finds where `cursor` starts and puts it in the reader; false when the subscription ended first. */
  async #start(cursor: Cursor, last: string | undefined, signal: AbortSignal): Promise<boolean> {
    if (last !== undefined && isStreamId(last)) cursor.id = last;
    else if (last !== undefined) {
      // Not an id of this broker's: everything retained is after it, and something may be missing.
      cursor.queue.push({ kind: "gap", topic: cursor.topic, after: last });
    } else {
      const end = await this.#end(cursor.key, signal);
      if (end === undefined) return false;
      cursor.id = end;
    }
    if (signal.aborted) return false;
    this.#reader.add(cursor);
    signal.addEventListener("abort", () => this.#reader.remove(cursor), { once: true });
    return true;
  }

  async *#deliveries(cursor: Cursor, ready: Promise<boolean>, signal: AbortSignal): AsyncGenerator<BrokerDelivery> {
    try {
      if (!await ready) return;
      while (!signal.aborted) {
        const next = cursor.queue.shift();
        if (next === undefined) {
          await cursor.bell.wait(signal);
          continue;
        }
        this.#reader.taken(cursor);
        yield next;
      }
    } finally {
      this.#reader.remove(cursor);
    }
  }

  /** The id of the stream's last entry ("0-0" when there is none), retried until Redis answers or `signal` aborts. */
  async #end(key: string, signal: AbortSignal): Promise<string | undefined> {
    for (let backoff = 50; !signal.aborted; backoff = Math.min(backoff * 2, 1000)) {
      try {
        const last = await this.#commands.sendCommand(["XREVRANGE", key, "+", "-", "COUNT", "1"]) as [string, string[]][];
        return last[0]?.[0] ?? "0-0";
      } catch {
        await pause(backoff, signal);
      }
    }
    return undefined;
  }
}

/**
 * A broker on Redis Streams (Redis 6.2+ or Valkey), connected: resolves once Redis answers
 * (node-redis retries until then). Close it with `close()`.
 */
export async function redisBroker(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
  const [commands, blocking] = await connectPair(options, options.onError ?? (() => {}));
  return new RedisBroker(options, commands, blocking);
}
