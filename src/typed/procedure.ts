/**
 * Procedures and events: what a typed router is made of.
 *
 * A procedure is a valibot input schema, an output schema, one of four shapes and
 * (on the side that serves it) a handler. Without a handler it is a contract: enough to
 * type a client, validate on the client, export as JSON Schema, or `implement` later.
 */
import type * as v from "valibot";
import type { Codec } from "../codec/types.ts";
import type { Context } from "./context.ts";
import type { Shape } from "./shape.ts";
import type { Tracked } from "./tracked.ts";

/** A valibot schema, sync or async. */
export type Schema = v.GenericSchema | v.GenericSchemaAsync;

export type { Shape } from "./shape.ts";

/** What a caller sends and a handler receives (after the schema's transforms). */
export type InputOf<I extends Schema> = v.InferInput<I>;
/** What a handler receives, after validation. */
export type ParsedOf<I extends Schema> = v.InferOutput<I>;

/** The values a handler's stream or input stream carries: `for await` them, or read `readable`. */
export interface InputStream<T> extends AsyncIterable<T> {
  /** The same values as a ReadableStream (use one or the other). */
  readonly readable: ReadableStream<T>;
}

/** A stream of values, in any form `for await` or a reader can walk. */
export type Source<T> = AsyncIterable<T> | ReadableStream<T>;

/** The handler a shape takes: input(s) in, output(s) out. */
export type HandlerOf<S extends Shape, I extends Schema, O extends Schema, C> = S extends "unary"
  ? (input: ParsedOf<I>, ctx: C) => v.InferInput<O> | Promise<v.InferInput<O>>
  : S extends "serverStream" ? (input: ParsedOf<I>, ctx: C) => Source<v.InferInput<O> | Tracked<v.InferInput<O>>>
  : S extends "clientStream"
    ? (inputs: InputStream<ParsedOf<I>>, ctx: C) => v.InferInput<O> | Promise<v.InferInput<O>>
  : S extends "bidi" ? (inputs: InputStream<ParsedOf<I>>, ctx: C) => Source<v.InferInput<O> | Tracked<v.InferInput<O>>>
  : never;

/** How a procedure is declared: its schemas, and optionally its qrpc binding. */
export interface ProcedureOptions<I extends Schema, O extends Schema> {
  readonly input: I;
  readonly output: O;
  /**
   * Also serve this procedure on this numeric cmd (0..65535), with plain payloads, so a
   * qrpc peer can call it with raw frames. weft clients still call it by name.
   */
  readonly cmd?: number;
  /** The codec of the pinned cmd's payloads (default JSON). Calls by name use the connection's. */
  readonly codec?: Codec;
  /** Shown in the JSON Schema export and the reflection procedure. */
  readonly description?: string;
}

/** A procedure: schemas, shape, and a handler on the side that serves it. */
export interface Procedure<S extends Shape, I extends Schema, O extends Schema, C = Context>
  extends ProcedureOptions<I, O> {
  readonly kind: "procedure";
  readonly shape: S;
  readonly handler?: HandlerOf<S, I, O, C>;
}

/**
 * Any procedure, whatever its types. (`any`, not `Schema`: with `Schema` the handler would
 * take `unknown`, and no real handler is assignable to that.)
 */
// deno-lint-ignore no-explicit-any
export type AnyProcedure = Procedure<Shape, any, any, any>;

/** How an event is declared. */
export interface EventOptions {
  /** Push this event on this numeric cmd, with a plain payload, to peers that speak plain qrpc. */
  readonly cmd?: number;
  /** The codec of the pinned cmd's payloads (default JSON). */
  readonly codec?: Codec;
  readonly description?: string;
}

/** A typed push: the server (or a client) sends it, the peer subscribes to it. */
export interface Event<D extends Schema> extends EventOptions {
  readonly kind: "event";
  readonly data: D;
}

/** Any event, whatever its type. */
export type AnyEvent = Event<Schema>;

/**
 * The procedure builders, with handlers typed for context `C` (see `procedures<C>()`).
 * The schemas alone decide I and O (`NoInfer` on the handler): a handler is then checked
 * against them, so `() => "pong"` stays the literal a `v.literal("pong")` output wants.
 */
export interface ProcedureBuilders<C> {
  /** One request, one reply. */
  unary<I extends Schema, O extends Schema>(
    options: ProcedureOptions<I, O>,
    handler?: NoInfer<HandlerOf<"unary", I, O, C>>,
  ): Procedure<"unary", I, O, C>;
  /** One request, a reply stream: the handler is an async generator or returns a ReadableStream. */
  serverStream<I extends Schema, O extends Schema>(
    options: ProcedureOptions<I, O>,
    handler?: NoInfer<HandlerOf<"serverStream", I, O, C>>,
  ): Procedure<"serverStream", I, O, C>;
  /** A request stream, one reply: the handler walks its inputs with `for await`. */
  clientStream<I extends Schema, O extends Schema>(
    options: ProcedureOptions<I, O>,
    handler?: NoInfer<HandlerOf<"clientStream", I, O, C>>,
  ): Procedure<"clientStream", I, O, C>;
  /** Streams both ways. */
  bidi<I extends Schema, O extends Schema>(
    options: ProcedureOptions<I, O>,
    handler?: NoInfer<HandlerOf<"bidi", I, O, C>>,
  ): Procedure<"bidi", I, O, C>;
}

function builder<S extends Shape>(shape: S) {
  // deno-lint-ignore no-explicit-any
  return (options: ProcedureOptions<Schema, Schema>, handler?: any) => {
    checkOptions(options, shape);
    return Object.freeze({ ...options, kind: "procedure" as const, shape, handler });
  };
}

function checkOptions(options: ProcedureOptions<Schema, Schema> | EventOptions, what: string): void {
  if (options.cmd !== undefined && (!Number.isInteger(options.cmd) || options.cmd < 0 || options.cmd > 0xffff)) {
    throw new RangeError(`${what}: cmd must be an integer in 0..65535 (only the low 16 bits route), got ${options.cmd}`);
  }
}

/**
 * Procedure builders whose handlers see context `C`: the base `Context` plus whatever
 * your middleware adds. `const t = procedures<Context & { user: User }>()`.
 */
export function procedures<C = Context>(): ProcedureBuilders<C> {
  return {
    unary: builder("unary"),
    serverStream: builder("serverStream"),
    clientStream: builder("clientStream"),
    bidi: builder("bidi"),
  } as ProcedureBuilders<C>;
}

const base = procedures<Context>();

/** A unary procedure; its handler sees the base `Context`. */
export const unary: ProcedureBuilders<Context>["unary"] = base.unary;
/** A server-streaming procedure. */
export const serverStream: ProcedureBuilders<Context>["serverStream"] = base.serverStream;
/** A client-streaming procedure. */
export const clientStream: ProcedureBuilders<Context>["clientStream"] = base.clientStream;
/** A bidirectional-streaming procedure. */
export const bidi: ProcedureBuilders<Context>["bidi"] = base.bidi;

/** A typed event with payload schema `data`. */
export function event<const D extends Schema>(data: D, options: EventOptions = {}): Event<D> {
  checkOptions(options, "event");
  return Object.freeze({ ...options, kind: "event" as const, data });
}

export function isProcedure(value: unknown): value is AnyProcedure {
  return typeof value === "object" && value !== null && (value as AnyProcedure).kind === "procedure";
}

export function isEvent(value: unknown): value is AnyEvent {
  return typeof value === "object" && value !== null && (value as AnyEvent).kind === "event";
}
