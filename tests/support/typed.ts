/** Helpers for the typed-procedures tests: a served router on a real TCP pair, bounded waits. */
import type { ConnectionOptions, ServerOptions } from "../../mod.ts";
import { RpcError } from "../../mod.ts";
import { type Client, type ClientOptions, createClient, type Router, serve, type Served, type ServeOptions } from "../../src/typed/mod.ts";
import { until } from "./bytes.ts";
import { type Pair, startPair } from "./harness.ts";

/** Things to close after each test, so a failed assertion never leaves a socket open. */
const cleanups = new Set<() => unknown>();

/** Destroys (or closes) `resource` after the current test, by `cleanup()`; closing twice is harmless. */
export function closeLater<T extends { close(): unknown } | { destroy(): unknown }>(resource: T): T {
  const close = () => ("destroy" in resource ? resource.destroy() : resource.close());
  cleanups.add(close);
  return resource;
}

/** Runs every pending close; give it to afterEach. */
export async function cleanup(): Promise<void> {
  const pending = [...cleanups];
  cleanups.clear();
  for (const close of pending) {
    try {
      await close();
    } catch {
      // already closed
    }
  }
}

export interface TypedPair<R extends Router> extends Pair {
  served: Served<R>;
  /** A typed client of `routes` over `pair.client` (no contract unless given). */
  api: Client<R>;
}

/** Starts a server serving `routes` and a client connected to it. */
export async function typedPair<R extends Router>(
  routes: R,
  options: {
    // deno-lint-ignore no-explicit-any
    serve?: ServeOptions<any>;
    client?: ConnectionOptions;
    server?: ServerOptions;
    clientOptions?: ClientOptions<R>;
  } = {},
): Promise<TypedPair<R>> {
  let served: Served<R> | undefined;
  const pair = await startPair((server) => {
    served = serve(routes, server, options.serve);
  }, { client: options.client, server: options.server });
  const close = pair.close;
  const once = () => {
    cleanups.delete(once);
    return close();
  };
  cleanups.add(once);
  return Object.assign(pair, {
    close: once,
    served: served!,
    api: createClient<R>(pair.client, options.clientOptions),
  });
}

/** Waits until both ends of `pair`'s first connection speak weft (after a first call). */
export async function negotiated(pair: Pair): Promise<void> {
  await until(() => pair.client.protocolVersion === 1 && pair.serverSide.protocolVersion === 1, 2000, "handshake");
}

/**
 * The error `action` fails with (thrown or rejected); fails the test if it succeeds or
 * takes longer than `ms`.
 */
export async function errorOf(action: () => unknown, ms = 3000): Promise<RpcError> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no error within ${ms} ms`)), ms);
  });
  try {
    const value = await Promise.race([Promise.resolve().then(action), timeout]);
    throw new Error(`expected an error, got ${JSON.stringify(value)}`);
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with `promise`'s value, or rejects after `ms` (so no test waits forever). */
export async function within<T>(promise: Promise<T>, ms = 3000, what = "promise"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every value of `source`, collected within `ms`. */
export function collect<T>(source: AsyncIterable<T>, ms = 3000): Promise<T[]> {
  return within((async () => {
    const out: T[] = [];
    for await (const value of source) out.push(value);
    return out;
  })(), ms, "a stream to end");
}

/** An async iterable fed by hand: `push` items, then `end()` or `fail(error)`. */
export class Feed<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #ended = false;
  #error: unknown = undefined;
  #wake: (() => void) | null = null;
  /** True once the iteration is over: ended, failed, or stopped by the consumer (return()). */
  stopped = false;

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  fail(error: unknown): void {
    this.#error = error;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.#items.length > 0) {
          yield this.#items.shift()!;
          continue;
        }
        if (this.#error !== undefined) throw this.#error;
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
      }
    } finally {
      this.stopped = true;
    }
  }
}
