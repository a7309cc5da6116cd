/**
 * What a handler and server middleware see about the call they serve.
 */
import type { Connection } from "../engine/connection.ts";
import type { Metadata } from "../wire/extensions.ts";
import type { IncomingRequest } from "../engine/api.ts";
import type { Shape } from "./shape.ts";
import { LAST_EVENT_ID } from "./tracked.ts";

/**
 * The base context of every call. Middleware may add properties (declare them with
 * `procedures<Context & { ... }>()` so handlers see them typed).
 */
export class Context {
  /** The procedure's dotted name, e.g. "users.get". */
  readonly path: string;
  readonly shape: Shape;
  /** The core request underneath: its cmd, flags, raw payload. */
  readonly request: IncomingRequest;

  constructor(request: IncomingRequest, path: string, shape: Shape) {
    this.request = request;
    this.path = path;
    this.shape = shape;
  }

  /** The connection the call came on: call the peer back, or push to it. */
  get connection(): Connection {
    return this.request.connection;
  }

  /** Aborts when the caller cancels, the deadline passes, or the connection goes. */
  get signal(): AbortSignal {
    return this.request.signal;
  }

  /** When the caller stops waiting (ms since the epoch), if it said. */
  get deadline(): number | undefined {
    return this.request.deadline;
  }

  /** The caller's metadata. */
  get metadata(): Readonly<Metadata> {
    return this.request.metadata;
  }

  /**
   * The id of the last item the caller received, when it calls again to resume a reply
   * stream whose items it was given with `tracked(id, item)`: go on after it.
   */
  get lastEventId(): string | undefined {
    const id = this.request.metadata[LAST_EVENT_ID];
    return typeof id === "string" ? id : undefined;
  }

  /** Metadata for the reply's first frame: set entries before the handler returns (or yields). */
  get replyMetadata(): Metadata {
    return this.request.replyMetadata;
  }

  /** Metadata for the reply's last frame: set entries before the reply ends. */
  get trailers(): Metadata {
    return this.request.trailers;
  }
}

/**
 * Server middleware: runs around every call it is given, outermost first. Call `next()`
 * to go on (it resolves with what the handler returned); throw an RpcError to refuse the
 * call, or return a value without calling `next` to answer it yourself.
 */
export type Middleware<C = Context> = (ctx: C, next: () => Promise<unknown>) => unknown;

/** Runs `middleware` around `last`, in order: the first one is outermost. */
export function runMiddleware<C>(
  middleware: readonly Middleware<C>[],
  ctx: C,
  last: () => unknown,
): Promise<unknown> {
  const step = (index: number): Promise<unknown> => {
    try {
      if (index === middleware.length) return Promise.resolve(last());
      let called = false;
      return Promise.resolve(middleware[index](ctx, () => {
        if (called) return Promise.reject(new Error("middleware called next() twice"));
        called = true;
        return step(index + 1);
      }));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return step(0);
}
