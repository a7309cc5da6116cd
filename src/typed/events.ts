/**
 * Typed events: pushed by the side that serves a router, subscribed to by its peer.
 *
 * On the wire an event is a push frame (qrpc's Push flag, no reply). By name it goes to
 * EVENT_CMD with the name prefix; an event pinned to a cmd goes there with a plain payload
 * when the peer speaks plain qrpc.
 */
import type * as v from "valibot";
import { json } from "../codec/json.ts";
import type { Codec } from "../codec/types.ts";
import type { Connection } from "../engine/connection.ts";
import { RpcError } from "../common/errors.ts";
import type { Mux, PushHandler, PushMessage } from "../engine/mux.ts";
import { readableFrom } from "../common/streams.ts";
import { type AnyEvent, type Event, isEvent, type Schema } from "./procedure.ts";
import type { Route } from "./router.ts";
import { validate } from "./validate.ts";
import { codecOf, decodeWith, encodeWith, EVENT_CMD, namePrefix, readName, withPrefix } from "./wire.ts";

/** A router's events as functions: call one to push it; it returns how many connections it went to. */
export type Emitter<R> = {
  [K in keyof R as R[K] extends AnyEvent ? K : R[K] extends { kind: string } ? never : K]: R[K] extends
    Event<infer D extends Schema> ? (data: v.InferInput<D>) => number
    : Emitter<R[K]>;
};

/** A typed proxy that pushes the events of `table` to `targets()`. */
export function emitter<R>(
  table: ReadonlyMap<string, Route>,
  targets: () => Iterable<Connection>,
  push: (connection: Connection, cmd: number, payload: Uint8Array) => boolean = pushPlainly,
): Emitter<R> {
  return emitterOf<R>(eventSender(table, targets, push));
}

/** A typed proxy over `send(path, data)`, which pushes the event named `path` and returns to how many connections. */
export function emitterOf<R>(send: (path: string, data: unknown) => number): Emitter<R> {
  return pathProxy("", send) as Emitter<R>;
}

/**
 * What an emitter calls: validates `data` against the event named `path` (throwing before
 * anything is sent), encodes it once per codec, and pushes it to `targets()`.
 */
export function eventSender(
  table: ReadonlyMap<string, Route>,
  targets: () => Iterable<Connection>,
  push: (connection: Connection, cmd: number, payload: Uint8Array) => boolean = pushPlainly,
): (path: string, data: unknown) => number {
  const prefixes = new Map<string, Uint8Array>();
  const send = (path: string, data: unknown): number => {
    const route = table.get(path);
    if (route === undefined || !isEvent(route.definition)) throw new TypeError(`no event named "${path}"`);
    const definition = route.definition;
    if (definition.data.async === true) throw new TypeError(`event "${path}" has an async schema: events validate synchronously`);
    const value = validate(definition.data, data, `event "${path}"`, "invalid_argument");
    const prefix = prefixes.get(path) ?? prefixes.set(path, namePrefix(path)).get(path)!;
    const encoded = new Map<Codec, Uint8Array>();
    let sent = 0;
    for (const connection of targets()) {
      if (!connection.isOpen) continue;
      const pinned = definition.cmd !== undefined && connection.protocolVersion === 0;
      const codec = pinned ? definition.codec ?? json : codecOf(connection);
      let body = encoded.get(codec);
      if (body === undefined) {
        body = encodeWith(codec, value, `event "${path}"`, "invalid_argument");
        encoded.set(codec, body);
      }
      const delivered = pinned ? push(connection, definition.cmd!, body) : push(connection, EVENT_CMD, withPrefix(prefix, body));
      if (delivered) sent++;
    }
    return sent;
  };
  return send;
}

/** A push with no policy: a connection serving its own peer has one reader to wait for. */
function pushPlainly(connection: Connection, cmd: number, payload: Uint8Array): boolean {
  connection.push(cmd, payload);
  return true;
}

function pathProxy(path: string, send: (path: string, data: unknown) => number): unknown {
  const children = new Map<string, unknown>();
  return new Proxy(function () {}, {
    get(_, key) {
      if (typeof key !== "string" || key === "then") return undefined;
      let child = children.get(key);
      if (child === undefined) children.set(key, child = pathProxy(path === "" ? key : `${path}.${key}`, send));
      return child;
    },
    apply(_, __, args) {
      if (path === "") throw new TypeError("emit: name an event, e.g. emit.notice(data)");
      return send(path, args[0]);
    },
  });
}

/** Receives a typed event: the callback form of `subscribe`. */
export type Listener<T> = (data: T) => void;

/** What `subscribe()` without a callback returns: every event until you close it. */
export interface Subscription<T> extends AsyncIterable<T> {
  readonly readable: ReadableStream<T>;
  /** Stops receiving; a `for await` over it ends. */
  close(): void;
}

/** Events buffered for a subscription nobody is reading; beyond this it fails. */
const SUBSCRIPTION_BUFFER = 10_000;

interface Subscriber {
  readonly connection: Connection;
  readonly path: string;
  readonly schema: Schema | null;
  deliver(data: unknown): void;
}

/**
 * The push handler of a mux that has subscribers: routes each event to the subscribers of
 * its connection and name, and hands every other push to the handler that was there before.
 */
class EventHub {
  readonly #subscribers = new Set<Subscriber>();
  readonly #pinned = new Map<number, { path: string; codec: Codec }>();
  readonly #previous: PushHandler | null;

  constructor(previous: PushHandler | null) {
    this.#previous = previous;
  }

  pin(cmd: number, path: string, codec: Codec): void {
    this.#pinned.set(cmd, { path, codec });
  }

  add(subscriber: Subscriber): () => void {
    this.#subscribers.add(subscriber);
    subscriber.connection.closed.then(() => this.#subscribers.delete(subscriber));
    return () => this.#subscribers.delete(subscriber);
  }

  readonly onPush = (message: PushMessage): void => {
    let path: string;
    let body = message.payload;
    let codec: Codec;
    if (message.cmd === EVENT_CMD) {
      try {
        const name = readName(body);
        path = name.name;
        body = body.subarray(name.offset);
      } catch {
        return;
      }
      codec = codecOf(message.connection);
    } else {
      const pinned = this.#pinned.get(message.cmd);
      if (pinned === undefined) return this.#previous?.(message);
      ({ path, codec } = pinned);
    }
    const what = `event "${path}"`;
    let decoded: { value: unknown } | { error: unknown } | null = null; // once, for all its subscribers
    let dropped: unknown = undefined;
    for (const subscriber of this.#subscribers) {
      if (subscriber.connection !== message.connection || subscriber.path !== path) continue;
      // The peer's bytes: an event that fails to decode or to match its schema is dropped,
      // and reported once to the connection's onError. Later events keep flowing.
      let value: unknown;
      try {
        decoded ??= decodeOnce(codec, body, what);
        if ("error" in decoded) throw decoded.error;
        value = subscriber.schema === null ? decoded.value : validate(subscriber.schema, decoded.value, what, "internal");
      } catch (error) {
        dropped ??= error;
        continue;
      }
      subscriber.deliver(value);
    }
    if (dropped !== undefined) message.connection.reportError(dropped);
  };
}

function decodeOnce(codec: Codec, body: Uint8Array, what: string): { value: unknown } | { error: unknown } {
  try {
    return { value: decodeWith(codec, body, what, "internal") };
  } catch (error) {
    return { error };
  }
}

const hubs = new WeakMap<Mux, EventHub>();

function hubOf(mux: Mux): EventHub {
  let hub = hubs.get(mux);
  if (hub === undefined || mux.pushHandler !== hub.onPush) {
    hub = new EventHub(mux.pushHandler);
    hubs.set(mux, hub);
    mux.onPush(hub.onPush);
  }
  return hub;
}

/**
 * Subscribes to event `path` from `connection`'s peer. With a callback it returns the
 * function that unsubscribes; without, a Subscription to `for await`.
 */
export function subscribe(
  connection: Connection,
  path: string,
  definition: AnyEvent | null,
  listener?: Listener<unknown>,
): (() => void) | Subscription<unknown> {
  const hub = hubOf(connection.mux);
  if (definition?.cmd !== undefined) hub.pin(definition.cmd, path, definition.codec ?? json);
  const schema = definition?.data ?? null;
  if (typeof listener === "function") {
    return hub.add({ connection, path, schema, deliver: (data) => deliverTo(listener, data) });
  }
  return new QueuedSubscription(connection, path, schema, hub);
}

/**
 * Calls an application's listener. One that throws must not stop delivery to the others nor
 * the connection's reading: its error is thrown again out of band, as an event listener's
 * is (the application's own bug, so it is not swallowed).
 */
function deliverTo(listener: Listener<unknown>, data: unknown): void {
  try {
    listener(data);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

class QueuedSubscription<T> implements Subscription<T> {
  readonly #queue: T[] = [];
  #head = 0;
  #waiting: ((step: IteratorResult<T>) => void) | null = null;
  #waitingFail: ((error: unknown) => void) | null = null;
  #error: unknown = undefined;
  #closed = false;
  readonly #remove: () => void;

  constructor(connection: Connection, path: string, schema: Schema | null, hub: EventHub) {
    this.#remove = hub.add({ connection, path, schema, deliver: (data) => this.#push(data as T) });
    connection.closed.then(() => this.close());
  }

  #push(value: T): void {
    if (this.#closed) return;
    if (this.#waiting !== null) {
      const resolve = this.#waiting;
      this.#waiting = this.#waitingFail = null;
      return resolve({ value, done: false });
    }
    if (this.#queue.length - this.#head >= SUBSCRIPTION_BUFFER) {
      return this.#fail(
        new RpcError("resource_exhausted", `subscriber fell ${SUBSCRIPTION_BUFFER} events behind; subscription closed`),
      );
    }
    this.#queue.push(value);
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.#error = error;
    this.#closed = true;
    this.#remove();
    if (this.#waitingFail !== null) {
      const reject = this.#waitingFail;
      this.#waiting = this.#waitingFail = null;
      reject(error);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#remove();
    if (this.#waiting !== null) {
      const resolve = this.#waiting;
      this.#waiting = this.#waitingFail = null;
      resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#head < this.#queue.length) {
          const value = this.#queue[this.#head++];
          if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
            this.#queue.splice(0, this.#head);
            this.#head = 0;
          }
          return Promise.resolve({ value, done: false });
        }
        if (this.#error !== undefined) return Promise.reject(this.#error);
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#waiting = resolve;
          this.#waitingFail = reject;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  get readable(): ReadableStream<T> {
    return readableFrom(() => this[Symbol.asyncIterator](), () => this.close());
  }
}
