/**
 * A typed client for a router, from the router's type alone: `createClient<typeof router>(connection)`.
 * Works in both directions: a server calls a client's router the same way, through the
 * connection in its handler's context.
 */
import type * as v from "valibot";
import type { Connection } from "../engine/connection.ts";
import { Caller, type ClientOptions, type ProcedureCallOptions, type Target } from "./caller.ts";
import type { Listener, Subscription } from "./events.ts";
import type { Event, Procedure, Schema, Shape, Source } from "./procedure.ts";
import type { Router } from "./router.ts";
import { type ReplyStream, TypedCall, type UnaryCall } from "./typed_call.ts";

export type { ClientCall, ClientMiddleware, ClientOptions, ProcedureCallOptions } from "./caller.ts";


/** Arguments of a call whose input may be left out when its schema accepts undefined. */
type InputArgs<I extends Schema> = undefined extends v.InferInput<I>
  ? [input?: v.InferInput<I>, options?: ProcedureCallOptions]
  : [input: v.InferInput<I>, options?: ProcedureCallOptions];

/** The method a procedure of shape S becomes on a client. */
export type CallerOf<S extends Shape, I extends Schema, O extends Schema> = S extends "unary"
  ? (...args: InputArgs<I>) => UnaryCall<v.InferOutput<O>>
  : S extends "serverStream" ? (...args: InputArgs<I>) => ReplyStream<v.InferOutput<O>>
  : S extends "clientStream"
    ? (inputs: Source<v.InferInput<I>>, options?: ProcedureCallOptions) => UnaryCall<v.InferOutput<O>>
  : S extends "bidi" ? (inputs: Source<v.InferInput<I>>, options?: ProcedureCallOptions) => ReplyStream<v.InferOutput<O>>
  : never;

/** How a client subscribes to an event. */
export interface Subscribable<T> {
  /** Calls `listener` with each event; returns the function that unsubscribes. */
  subscribe(listener: Listener<T>): () => void;
  /** Every event from now on, to `for await` (or read `.readable`) until you `close()` it. */
  subscribe(): Subscription<T>;
}

/** A router's procedures as typed methods, its events as subscriptions, nested alike. */
export type Client<R> = {
  readonly [K in keyof R]: R[K] extends
    Procedure<infer S extends Shape, infer I extends Schema, infer O extends Schema, infer _> ? CallerOf<S, I, O>
    : R[K] extends Event<infer D extends Schema> ? Subscribable<v.InferOutput<D>>
    : Client<R[K]>;
};





/** A typed client over `connection`, for the router of type R. */
export function createClient<R extends Router>(connection: Connection, options: ClientOptions<R> = {}): Client<R> {
  const caller = new Caller(connection, options);
  return pathProxy("", caller) as Client<R>;
}

/**
 * One node of the client: a function that calls the procedure at `path`, behind a proxy
 * that makes its children (`users` → `users.get`) on first access. The proxy has no apply
 * trap, so a call goes straight to the function.
 */
function pathProxy(path: string, caller: Caller): unknown {
  const children = new Map<string, unknown>();
  let target: Target | null = null; // resolved on the first call, then kept here
  const callProcedure = (input?: unknown, options?: ProcedureCallOptions) => {
    if (path === "") throw new TypeError("a typed client is not callable: call one of its procedures");
    try {
      target ??= caller.target(path);
    } catch (error) {
      return TypedCall.failed(caller, path, error); // a name the contract lacks: a failed call, not a throw
    }
    return new TypedCall(caller, target, input, options);
  };
  return new Proxy(callProcedure, {
    get(_, key) {
      if (typeof key !== "string" || key === "then") return undefined;
      if (key === "subscribe" && path !== "") {
        return (listener?: Listener<unknown>) => caller.subscribe(path, listener);
      }
      let child = children.get(key);
      if (child === undefined) children.set(key, child = pathProxy(path === "" ? key : `${path}.${key}`, caller));
      return child;
    },
  });
}
