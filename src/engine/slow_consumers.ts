/**
 * Broadcasts to connections that do not keep up. A server pushes the same frame to many
 * connections (`pushAll`, typed `emit`); one client that stops reading must not make the
 * server hold an unbounded backlog for it, nor make the others wait. Each connection may
 * fall `maxBytes` behind (bytes written and not taken by the peer); past that the server's
 * policy decides:
 *
 *   "close"        the connection is closed with `resource_exhausted` (the default: a client
 *                  this far behind has lost the thread; it reconnects and catches up)
 *   "drop-newest"  the new push is dropped for that connection
 *   "drop-oldest"  pushes wait in a queue of their own (at most `maxBytes`), the oldest
 *                  dropped to make room, and go out as the connection drains
 *
 * Drops and closes are counted (`stats`). Other traffic of the connection (replies, calls)
 * is not governed here: `maxUnsentBytes` bounds it.
 */
import { RpcError } from "../common/errors.ts";
import type { Connection } from "./api.ts";

export type SlowConsumerPolicy = "close" | "drop-newest" | "drop-oldest";

export interface SlowConsumerOptions {
  /** How far behind (bytes) a connection may fall before the policy applies. Default 4 MiB. */
  maxBytes?: number;
  /** What happens past `maxBytes`. Default "close". */
  policy?: SlowConsumerPolicy;
}

/** Counts since the server started. */
export interface BroadcastStats {
  /** Pushes dropped for a slow connection (either drop policy). */
  dropped: number;
  /** Connections closed for being too slow. */
  closed: number;
  /** Pushes waiting in drop-oldest queues now. */
  queued: number;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
/** What a queued push is counted as, besides its payload (the frame header). */
const FRAME_OVERHEAD = 16;

interface Queued {
  cmd: number;
  payload: Uint8Array;
}

/** One connection's drop-oldest queue, and whether it is draining. */
class Backlog {
  readonly items: Queued[] = [];
  head = 0;
  bytes = 0;
  draining = false;
}

export class SlowConsumers {
  readonly #maxBytes: number;
  readonly #policy: SlowConsumerPolicy;
  readonly #backlogs = new WeakMap<Connection, Backlog>();
  readonly stats: BroadcastStats = { dropped: 0, closed: 0, queued: 0 };

  constructor(options: SlowConsumerOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!(maxBytes > 0)) throw new TypeError(`slowConsumers.maxBytes must be a positive number of bytes, got ${maxBytes}`);
    const policy = options.policy ?? "close";
    if (policy !== "close" && policy !== "drop-newest" && policy !== "drop-oldest") {
      throw new TypeError(`slowConsumers.policy must be "close", "drop-newest" or "drop-oldest", got ${String(policy)}`);
    }
    this.#maxBytes = maxBytes;
    this.#policy = policy;
  }

  /**
   * Pushes to `connection` under the policy. True when the push went out or waits in its
   * queue; false when it was dropped or the connection closed for it.
   */
  offer(connection: Connection, cmd: number, payload: Uint8Array): boolean {
    const backlog = this.#backlogs.get(connection);
    if (backlog === undefined && connection.unsentBytes <= this.#maxBytes) {
      connection.push(cmd, payload);
      return true;
    }
    switch (this.#policy) {
      case "drop-newest":
        this.stats.dropped++;
        return false;
      case "close":
        this.stats.closed++;
        connection.destroy(new RpcError(
          "resource_exhausted",
          `slow consumer: more than ${this.#maxBytes} bytes of pushes not taken by the peer`,
        ));
        return false;
      case "drop-oldest":
        this.#enqueue(connection, backlog ?? this.#newBacklog(connection), cmd, payload);
        return true;
    }
  }

  #newBacklog(connection: Connection): Backlog {
    const backlog = new Backlog();
    this.#backlogs.set(connection, backlog);
    return backlog;
  }

  #enqueue(connection: Connection, backlog: Backlog, cmd: number, payload: Uint8Array): void {
    backlog.items.push({ cmd, payload });
    backlog.bytes += payload.length + FRAME_OVERHEAD;
    this.stats.queued++;
    while (backlog.bytes > this.#maxBytes && backlog.head < backlog.items.length - 1) {
      const oldest = backlog.items[backlog.head];
      backlog.items[backlog.head++] = undefined as unknown as Queued;
      backlog.bytes -= oldest.payload.length + FRAME_OVERHEAD;
      this.stats.queued--;
      this.stats.dropped++;
    }
    if (!backlog.draining) void this.#drain(connection, backlog);
  }

  /** Sends the queue as the connection drains, half a bound at a time; ends when it is empty. */
  async #drain(connection: Connection, backlog: Backlog): Promise<void> {
    backlog.draining = true;
    const low = this.#maxBytes / 2;
    while (backlog.head < backlog.items.length) {
      await connection.drained(low);
      if (!connection.isOpen) break;
      let sent = 0;
      while (backlog.head < backlog.items.length && connection.unsentBytes <= this.#maxBytes) {
        const item = backlog.items[backlog.head];
        backlog.items[backlog.head++] = undefined as unknown as Queued;
        backlog.bytes -= item.payload.length + FRAME_OVERHEAD;
        this.stats.queued--;
        connection.push(item.cmd, item.payload);
        sent++;
      }
      if (backlog.head > 1024 && 2 * backlog.head > backlog.items.length) {
        backlog.items.splice(0, backlog.head);
        backlog.head = 0;
      }
      // Over the bound with bytes not yet handed to the socket: let the writer's turn end.
      if (sent === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    this.stats.queued -= backlog.items.length - backlog.head;
    this.#backlogs.delete(connection);
  }
}
