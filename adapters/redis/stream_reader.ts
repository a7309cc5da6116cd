/**
 * One blocking XREAD for all of a broker's subscriptions, on a connection of its own (a
 * blocked connection can do nothing else). Each subscription is a cursor: the id of the last
 * event it has. The reader asks for every topic from the oldest cursor on it, and hands each
 * entry to the subscriptions whose cursor is before it, so a subscription that resumes from an
 * old id and one that is live share one read, and none gets an event twice.
 *
 * Each entry carries the id of the entry before it in its stream (`p`, written by the publish
 * script): an entry whose `p` is not the subscription's cursor means events in between are
 * gone (trimmed, or lost with a Redis that restarted empty), and the subscription gets a `gap`
 * before it. A subscription whose consumer has `maxQueued` deliveries waiting is left out of
 * the reads until it has taken half of them, and then catches up from Redis: memory per
 * subscription stays bounded, and a consumer too slow for retention learns it from a `gap`.
 *
 * A new or resumed subscription must join a read already blocked: the reader's connection
 * is unblocked with CLIENT UNBLOCK from the commands connection (its CLIENT ID is learnt after
 * each connect), and, should that arrive before the XREAD it meant, the block ends after
 * `blockMs` anyway. When Redis is away the loop waits and retries (backoff up to 1 s); cursors
 * stay where they are, so every subscription resumes from its last event once it is back.
 */
import type { Buffer } from "node:buffer";
import type { BrokerDelivery } from "../../src/cluster/broker.ts";
import { Bell } from "../../src/cluster/bell.ts";
import { BUFFERS, compareIds, pause, type RedisConnection } from "./connection.ts";

/** One subscription, as the reader sees it. */
export interface Cursor {
  readonly topic: string;
  readonly key: string;
  /** The id of the last event it has (or where it starts: the deliveries are after it). */
  id: string;
  readonly queue: BrokerDelivery[];
  /** Rung when something was queued. */
  readonly bell: Bell;
}

type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/** The reader's limits. */
export interface StreamReaderOptions {
  /** Entries per stream per read. */
  readonly batch: number;
  /** Deliveries a subscription may have waiting before it is left out of reads. */
  readonly maxQueued: number;
  /** The longest one XREAD blocks. */
  readonly blockMs: number;
  readonly onError: (error: unknown) => void;
}

/** The XREAD loop of one broker. */
export class StreamReader {
  readonly #reader: RedisConnection;
  readonly #commands: RedisConnection;
  readonly #options: StreamReaderOptions;
  readonly #cursors = new Set<Cursor>();
  readonly #closing = new AbortController();
  readonly #idle = new Bell();
  #readerId: string | undefined;
  #blocked = false;
  readonly done: Promise<void>;

  constructor(reader: RedisConnection, commands: RedisConnection, options: StreamReaderOptions) {
    this.#reader = reader;
    this.#commands = commands;
    this.#options = options;
    reader.on("ready", () => (this.#readerId = undefined));
    this.done = this.#loop();
  }

  add(cursor: Cursor): void {
    this.#cursors.add(cursor);
    this.#changed();
  }

  remove(cursor: Cursor): void {
    this.#cursors.delete(cursor);
  }

  /** A subscription took deliveries: if it was left out for having too many, it may be read for again. */
  taken(cursor: Cursor): void {
    if (cursor.queue.length === Math.floor(this.#options.maxQueued / 2)) this.#changed();
  }

  close(): Promise<void> {
    this.#closing.abort();
    this.#idle.ring();
    return this.done;
  }

  /** The set of cursors to read for changed: wake the loop, or end the XREAD it is blocked in. */
  #changed(): void {
    this.#idle.ring();
    if (!this.#blocked || this.#readerId === undefined) return;
    const id = this.#readerId;
    const unblock = async () => {
      // The UNBLOCK may overtake the XREAD it is meant for (another connection): try twice.
      for (let attempt = 0; attempt < 2 && this.#blocked && this.#readerId === id; attempt++) {
        if (Number(await this.#commands.sendCommand(["CLIENT", "UNBLOCK", id])) === 1) return;
        await pause(20, this.#closing.signal);
      }
    };
    unblock().catch(this.#options.onError);
  }

  async #loop(): Promise<void> {
    let backoff = 50;
    while (!this.#closing.signal.aborted) {
      const reading = [...this.#cursors].filter((cursor) => cursor.queue.length < this.#options.maxQueued);
      if (reading.length === 0) {
        await this.#idle.wait(this.#closing.signal);
        continue;
      }
      try {
        this.#readerId ??= String(await this.#reader.sendCommand(["CLIENT", "ID"]));
        const reply = await this.#read();
        backoff = 50;
        if (reply !== null) this.#deliver(reply, reading);
      } catch (error) {
        this.#blocked = false;
        if (this.#closing.signal.aborted) return;
        this.#readerId = undefined;
        this.#options.onError(error);
        await pause(backoff, this.#closing.signal);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  /** One XREAD for the cursors being read now (worked out here, so none added meanwhile is missed). */
  async #read(): Promise<XReadReply> {
    const oldest = new Map<string, string>();
    for (const cursor of this.#cursors) {
      if (cursor.queue.length >= this.#options.maxQueued) continue;
      const seen = oldest.get(cursor.key);
      if (seen === undefined || compareIds(cursor.id, seen) < 0) oldest.set(cursor.key, cursor.id);
    }
    if (oldest.size === 0) return null;
    const { batch, blockMs } = this.#options;
    this.#blocked = true;
    try {
      return await this.#reader.sendCommand(
        ["XREAD", "COUNT", String(batch), "BLOCK", String(blockMs), "STREAMS", ...oldest.keys(), ...oldest.values()],
        BUFFERS,
      ) as XReadReply;
    } finally {
      this.#blocked = false;
    }
  }

  #deliver(reply: NonNullable<XReadReply>, reading: Cursor[]): void {
    for (const [keyBytes, entries] of reply) {
      const key = keyBytes.toString();
      const cursors = reading.filter((cursor) => cursor.key === key && this.#cursors.has(cursor));
      for (const [idBytes, fields] of entries) {
        const id = idBytes.toString();
        let data: Uint8Array = new Uint8Array(0);
        let previous = "0-0";
        for (let i = 0; i + 1 < fields.length; i += 2) {
          const field = fields[i].toString();
          if (field === "d") data = new Uint8Array(fields[i + 1]); // a copy: the reply's bytes are not ours to keep
          else if (field === "p") previous = fields[i + 1].toString();
        }
        for (const cursor of cursors) {
          if (compareIds(id, cursor.id) <= 0) continue;
          if (previous !== cursor.id) cursor.queue.push({ kind: "gap", topic: cursor.topic, after: cursor.id });
          cursor.queue.push({ kind: "event", id, topic: cursor.topic, data });
          cursor.id = id;
        }
      }
      for (const cursor of cursors) cursor.bell.ring();
    }
  }
}
