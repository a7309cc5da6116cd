/**
 * The Redis connections a broker or a registry owns, made from what the user gave: a URL, or
 * a node-redis client used as a template (`duplicate()`: its URL, credentials, TLS and
 * database carry over, and the user's client itself is never connected, used or closed here).
 *
 * Every connection is RESP2 (the reply shapes parsed here are RESP2's on node-redis 5 and 6
 * alike) and has its offline queue off: while Redis is unreachable a command fails at once
 * instead of waiting in an unbounded queue, which is what keeps an outage bounded in memory.
 * node-redis reconnects by itself (exponential backoff up to 2 s); its 'error' events, one per
 * failed attempt, go to `onError` and never reach the process as unhandled.
 */
import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES } from "redis";
import { RpcError } from "../../src/common/errors.ts";

/** A node-redis client, as weft uses it. */
export type RedisConnection = ReturnType<typeof createClient>;

/** A node-redis client (from `createClient` of the `redis` package, 5 or 6) to copy the connection options of. */
export interface RedisClientTemplate {
  duplicate(overrides?: object): unknown;
}

/** Where Redis is and what to do with the errors nobody awaits. */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`); default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /** A node-redis client whose options to use instead of `url`. */
  readonly client?: RedisClientTemplate;
  /** Prefix of every key and channel (default `weft:`), so several applications can share a Redis. */
  readonly prefix?: string;
  /** Failures that reach no caller: connection errors while reconnecting, failed renewals. Default: ignored. */
  readonly onError?: (error: unknown) => void;
}

/** Replies with bulk strings as Buffers (events carry bytes). */
export const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

/** A new connection (not yet connected) with weft's settings; its errors go to `onError`. */
export function makeConnection(options: RedisConnectionOptions, onError: (error: unknown) => void): RedisConnection {
  // node-redis 6 turns maintenance notifications on by default, and refuses them with RESP2.
  const overrides = { RESP: 2, disableOfflineQueue: true, maintNotifications: "disabled" } as const;
  const connection = (options.client !== undefined
    ? options.client.duplicate(overrides)
    : createClient({ url: options.url ?? "redis://127.0.0.1:6379", ...overrides })) as RedisConnection;
  connection.on("error", onError);
  return connection;
}

/** Closes a connection now: commands in flight fail, nothing is thrown. */
export function dropConnection(connection: RedisConnection): void {
  try {
    if (connection.isOpen) connection.destroy();
  } catch {
    // already closed
  }
}

/**
 * Two connections with weft's settings (one for commands, one that blocks or subscribes),
 * both connected; if either fails, both are closed and the failure is `unavailable`.
 */
export async function connectPair(
  options: RedisConnectionOptions,
  onError: (error: unknown) => void,
): Promise<[RedisConnection, RedisConnection]> {
  const pair: [RedisConnection, RedisConnection] = [makeConnection(options, onError), makeConnection(options, onError)];
  try {
    await Promise.all(pair.map((connection) => connection.connect()));
  } catch (error) {
    pair.forEach(dropConnection);
    throw unavailable("could not connect to Redis", error);
  }
  return pair;
}

/** A Redis failure as the RpcError weft's callers get: `unavailable`, with the cause. */
export function unavailable(what: string, error: unknown): RpcError {
  return new RpcError("unavailable", `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/**
 * A Lua script, sent whole with EVAL each time (Redis keeps it compiled, keyed by its SHA1).
 * Not EVALSHA with a reload on NOSCRIPT: after a Redis restart, a publish that has to reload
 * would be overtaken by one issued after it, and publishes must keep their order.
 */
export class Script {
  readonly #source: string;

  constructor(source: string) {
    this.#source = source;
  }

  run<T>(connection: RedisConnection, keys: string[], args: (string | Buffer)[], options?: typeof BUFFERS): Promise<T> {
    return connection.sendCommand(["EVAL", this.#source, String(keys.length), ...keys, ...args], options) as Promise<T>;
  }
}

/** -1, 0 or 1 as stream id `a` is before, the same as or after `b` (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am !== bm ? (am < bm ? -1 : 1) : as !== bs ? (as < bs ? -1 : 1) : 0;
}

/** Whether `id` is a stream id Redis accepts (`<ms>-<seq>`). */
export function isStreamId(id: string): boolean {
  return /^\d{1,20}-\d{1,20}$/.test(id);
}

/** Waits `ms`, or less if `signal` aborts first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
