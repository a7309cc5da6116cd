/**
 * Serving a typed router: on a server (every connection) or on one connection (a client
 * exposing handlers its server can call).
 */
import type { Codec } from "../codec/types.ts";
import { json } from "../codec/json.ts";
import type { Connection } from "../engine/connection.ts";
import { RpcError } from "../common/errors.ts";
import type { Broker } from "../cluster/broker.ts";
import type { IncomingRequest } from "../engine/api.ts";
import type { HandlerResult, Mux } from "../engine/mux.ts";
import { readableFrom, toAsyncIterator } from "../common/streams.ts";
import { Context, type Middleware, runMiddleware } from "./context.ts";
import { type Emitter, emitter, emitterOf, eventSender } from "./events.ts";
import { BrokeredEvents, type BrokerOptions } from "./brokered.ts";
import { Presence } from "./presence.ts";
import type { AnyProcedure, InputStream, Schema } from "./procedure.ts";
import { isProcedure } from "./procedure.ts";
import { flatten, type Route, type Router } from "./router.ts";
import { validate } from "./validate.ts";
import {
  codecOf,
  decodeChecked,
  DESCRIBE_PROCEDURE,
  encodeWith,
  type Labels,
  labelsOf,
  nameLength,
  NameTable,
  PROCEDURE_CMD,
  readName,
  withPrefix,
} from "./wire.ts";
import { DEFAULT_MAX_DEPTH } from "./depth.ts";
import { idPrefix, Tracked, TRACKED_KEY } from "./tracked.ts";

/** What `serve` can serve on: a Server (all its connections) or one Connection. */
export interface ServeTarget {
  readonly mux: Mux;
}

export interface ServeOptions<C = Context> {
  /** Server middleware, outermost first: runs around every procedure call. */
  middleware?: readonly Middleware<C>[];
  /**
   * Serve the reflection procedure `$weft.describe` (see `describe`), which returns the
   * router's contract as JSON Schema. Default false.
   */
  reflection?: boolean;
  /**
   * How deep an input may nest arrays and objects (default 64): one deeper is refused with
   * `invalid_argument` before it is parsed or validated, so it costs the server next to nothing.
   */
  maxDepth?: number;
  /**
   * Several instances serving this router as one: `emit` also reaches the connections of every
   * other instance on the same broker and topic (brokered.ts says what is guaranteed). A
   * Broker, or `{ broker, topic, onError }`.
   */
  broker?: Broker | BrokerOptions;
}

/** A served router: its routes, and typed pushes of its events. */
export interface Served<R> {
  readonly routes: ReadonlyMap<string, Route>;
  /**
   * The router's events, typed: `served.emit.notice(data)` pushes to every connection of
   * a Server target (or to the one Connection) and returns how many it went to.
   */
  readonly emit: Emitter<R>;
  /**
   * The router's events, pushed to one connection of the server, or to every connection joined
   * to a name (`join`), on this instance and, with a broker, on every other. Returns how many
   * connections of this instance it went to.
   */
  emitTo(target: Connection | string): Emitter<R>;
  /** `connection` answers to `name` (a user id, a room) for `emitTo(name)`, until it leaves it or closes. */
  join(connection: Connection, name: string): void;
  /** `connection` no longer answers to `name`. */
  leave(connection: Connection, name: string): void;
  /** An id naming `connection` on every instance (it joins it): `emitTo(id)` reaches it from any of them. */
  idOf(connection: Connection): string;
  /** Resolves once other instances' emits reach this one (with a broker; at once without). */
  readonly ready: Promise<void>;
  /** Stops receiving other instances' emits (with a broker; nothing to stop without). Local emits go on. */
  close(): void;
}


/**
 * Serves `routes` on `target`: calls by name on cmd 0xFFFF, and each pinned procedure on
 * its own cmd. Throws if one of those cmds already has a handler.
 */
export function serve<const R extends Router, C = Context>(
  routes: R,
  target: ServeTarget,
  options: ServeOptions<C> = {},
): Served<R> {
  const table = flatten(routes);
  const procedures = new NameTable<ProcedureRunner>();
  const pinned: ProcedureRunner[] = [];
  const middleware = (options.middleware ?? []) as readonly Middleware<Context>[];
  for (const route of table.values()) {
    const definition = route.definition;
    if (!isProcedure(definition)) continue;
    if (typeof definition.handler !== "function") {
      throw new TypeError(`serve: "${route.path}" has no handler (a contract: give it one with implement)`);
    }
    const runner = new ProcedureRunner(route.path, definition, middleware, options.maxDepth ?? DEFAULT_MAX_DEPTH);
    procedures.set(route.path, runner);
    if (definition.cmd !== undefined) pinned.push(runner);
  }
  for (const cmd of [PROCEDURE_CMD, ...pinned.map((runner) => runner.definition.cmd!)]) {
    if (target.mux.lookup(cmd) !== undefined) throw new TypeError(`serve: cmd ${cmd} already has a handler`);
  }
  let describeReply: Promise<Uint8Array> | null = null;
  target.mux.handle(PROCEDURE_CMD, (request) => {
    const length = nameLength(request.payload);
    const runner = procedures.find(request.payload, length);
    if (runner !== undefined) return runner.run(request, 1 + length, codecOf(request.connection));
    const { name } = readName(request.payload);
    if (name === DESCRIBE_PROCEDURE && options.reflection === true) {
      describeReply ??= import("./json_schema.ts").then(({ describe }) => json.encode(describe(routes)));
      return describeReply;
    }
    throw new RpcError("unimplemented", `no procedure named "${name}"`);
  });
  for (const runner of pinned) {
    const codec = runner.definition.codec ?? json;
    target.mux.handle(runner.definition.cmd!, (request) => runner.run(request, 0, codec));
  }
  // A Server pushes to all its connections, under its slow-consumer policy; a Connection is
  // its own only one.
  const server = target as ServeTarget & {
    connections?: ReadonlySet<Connection>;
    pushTo?: (connection: Connection, cmd: number, payload: Uint8Array) => boolean;
  };
  const everyone = (): Iterable<Connection> => server.connections ?? [target as unknown as Connection];
  const push = server.pushTo?.bind(server);
  const local = eventSender(table, everyone, push);
  const presence = new Presence();
  // The name a named send goes to: set just before each (synchronous) send.
  let named = "";
  const localNamed = eventSender(table, () => presence.connections(named), push);
  const sendLocal = (path: string, data: unknown, to: string | undefined): number => {
    if (to === undefined) return local(path, data);
    named = to;
    return localNamed(path, data);
  };
  const brokerOptions = options.broker === undefined ? undefined : "publish" in options.broker ? { broker: options.broker } : options.broker;
  const brokered = brokerOptions === undefined ? undefined : new BrokeredEvents(brokerOptions, sendLocal);
  const sender = (to: string | undefined) => (path: string, data: unknown): number => {
    const sent = sendLocal(path, data, to); // validates first: an invalid event is thrown here and published nowhere
    brokered?.publish(path, data, to);
    return sent;
  };
  return {
    routes: table,
    emit: emitterOf<R>(sender(undefined)),
    emitTo: (target) => typeof target === "string" ? emitterOf<R>(sender(target)) : emitter<R>(table, () => [target], push),
    join: (connection, name) => presence.join(connection, name),
    leave: (connection, name) => presence.leave(connection, name),
    idOf: (connection) => presence.idOf(connection),
    ready: brokered?.ready ?? Promise.resolve(),
    close: () => brokered?.close(),
  };
}

/** Runs one procedure's calls: decode, validate, middleware, handler, validate, encode. */
class ProcedureRunner {
  readonly path: string;
  readonly definition: AnyProcedure;
  readonly #labels: Labels;
  readonly #middleware: readonly Middleware<Context>[];
  // deno-lint-ignore no-explicit-any
  readonly #handler: (input: any, ctx: Context) => any;
  /** Unary, no middleware, sync schemas: a handler that returns at once is answered synchronously. */
  readonly #direct: boolean;
  readonly #maxDepth: number;

  constructor(path: string, definition: AnyProcedure, middleware: readonly Middleware<Context>[], maxDepth: number) {
    this.path = path;
    this.#maxDepth = maxDepth;
    this.definition = definition;
    this.#labels = labelsOf(path);
    this.#middleware = middleware;
    this.#handler = definition.handler!;
    this.#direct = definition.shape === "unary" && middleware.length === 0 &&
      definition.input.async !== true && definition.output.async !== true;
  }

  run(request: IncomingRequest, offset: number, codec: Codec): HandlerResult | Promise<HandlerResult> {
    const shape = this.definition.shape;
    const ctx = new Context(request, this.path, shape);
    if (this.#direct) {
      const output = this.#handler(this.#input(request, offset, codec), ctx);
      if (output instanceof Promise) return output.then((value) => this.#finishOne(value, codec));
      return this.#encodeOutput(validate(this.definition.output, output, this.#labels.output, "internal"), codec);
    }
    const result = this.#invoke(request, ctx, offset, codec);
    if (shape === "unary" || shape === "clientStream") return result.then((value) => this.#finishOne(value, codec));
    return this.#replyStream(result, codec, request);
  }

  /** Middleware, then the handler with its validated input(s). */
  #invoke(request: IncomingRequest, ctx: Context, offset: number, codec: Codec): Promise<unknown> {
    const callHandler = async () => {
      const shape = this.definition.shape;
      const input = shape === "unary" || shape === "serverStream"
        ? await this.#input(request, offset, codec)
        : new RequestItems(request, offset, codec, this.definition.input, this.#labels.inputItem, this.#maxDepth);
      return this.#handler(input, ctx);
    };
    return this.#middleware.length === 0 ? callHandler() : runMiddleware(this.#middleware, ctx, callHandler);
  }

  /** The one input of a unary or server-streaming call, validated (a promise for an async schema). */
  #input(request: IncomingRequest, offset: number, codec: Codec): unknown {
    if (request.isStream) {
      throw new RpcError(
        "invalid_argument",
        `"${this.path}" takes one request frame (it is ${this.definition.shape}), not a request stream`,
      );
    }
    const bytes = offset === 0 ? request.payload : request.payload.subarray(offset);
    return decodeChecked(codec, bytes, this.definition.input, this.#labels.input, "invalid_argument", this.#maxDepth);
  }

  async #finishOne(value: unknown, codec: Codec): Promise<Uint8Array> {
    return this.#encodeOutput(await validate(this.definition.output, value, this.#labels.output, "internal"), codec);
  }

  #encodeOutput(value: unknown, codec: Codec): Uint8Array {
    return encodeWith(codec, value, this.#labels.output, "internal");
  }

  /** The handler's stream, each item validated and encoded as it goes. */
  async *#replyStream(source: Promise<unknown>, codec: Codec, request: IncomingRequest): AsyncGenerator<Uint8Array> {
    const result = await source;
    if (result === null || typeof result !== "object") {
      throw new TypeError(`"${this.path}" must return an async iterable or a ReadableStream, got ${typeof result}`);
    }
    const iterator = toAsyncIterator(result as AsyncIterable<unknown>);
    const what = this.#labels.outputItem;
    const schema = this.definition.output;
    // Decided by the first item: a tracked stream (to a weft peer) prefixes every item with its id.
    let withIds: boolean | undefined;
    try {
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        let value = step.value;
        let id = "";
        if (value instanceof Tracked) {
          id = value.id;
          value = value.data;
        }
        if (withIds === undefined) {
          // The peer's greeting is enough: a version may be agreed only after this first item.
          withIds = step.value instanceof Tracked && request.connection.peerSpeaksWeft;
          if (withIds) request.replyMetadata[TRACKED_KEY] = "1";
        }
        if (value === undefined) throw new TypeError(`${what} is undefined: stream items must be values`);
        const item = validate(schema, value, what, "internal");
        const body = encodeWith(codec, schema.async ? await item : item, what, "internal");
        yield withIds ? withPrefix(idPrefix(id), body) : body;
      }
    } finally {
      await iterator.return?.();
    }
  }
}

/** A request stream's items, decoded and validated one by one as the handler reads them. */
class RequestItems<T> implements InputStream<T> {
  readonly #request: IncomingRequest;
  readonly #offset: number;
  readonly #codec: Codec;
  readonly #schema: Schema;
  readonly #what: string;
  readonly #maxDepth: number;
  #taken = false;

  constructor(request: IncomingRequest, offset: number, codec: Codec, schema: Schema, what: string, maxDepth: number) {
    this.#request = request;
    this.#offset = offset;
    this.#codec = codec;
    this.#schema = schema;
    this.#what = what;
    this.#maxDepth = maxDepth;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    if (this.#taken) throw new TypeError(`${this.#what}s can be read once`);
    this.#taken = true;
    let first = true;
    for await (const payload of this.#request.stream) {
      const bytes = first && this.#offset > 0 ? payload.subarray(this.#offset) : payload;
      first = false;
      if (bytes.length === 0) continue; // the opening frame of a call by name, or an empty end
      yield (await decodeChecked(this.#codec, bytes, this.#schema, this.#what, "invalid_argument", this.#maxDepth)) as T;
    }
  }

  get readable(): ReadableStream<T> {
    return readableFrom(() => this[Symbol.asyncIterator](), (reason) => this.#request.stream.cancel(reason));
  }
}

