/**
 * Routers: named procedures and events, nested by namespace ("users.get").
 */
import type { Context } from "./context.ts";
import {
  type AnyEvent,
  type AnyProcedure,
  type HandlerOf,
  isEvent,
  isProcedure,
  type Procedure,
  type Schema,
  type Shape,
} from "./procedure.ts";
import { EVENT_CMD, PROCEDURE_CMD } from "./wire.ts";

/** A tree of procedures and events. */
export interface Router {
  readonly [name: string]: AnyProcedure | AnyEvent | Router;
}

/**
 * Names a router cannot use: "then" (a client would look like a promise) and
 * "subscribe" (it is how a client subscribes to an event).
 */
export const RESERVED_NAMES: readonly string[] = ["then", "subscribe"];

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** A procedure's name travels in one length byte. */
const MAX_PATH_BYTES = 255;

/** Checks a router's names and returns it unchanged, typed exactly. */
export function router<const R extends Router>(routes: R): R {
  flatten(routes);
  return routes;
}

/** One procedure or event of a router, by its dotted path. */
export interface Route<T extends AnyProcedure | AnyEvent = AnyProcedure | AnyEvent> {
  readonly path: string;
  readonly definition: T;
}

/** Every procedure and event of a router by dotted path; throws on a bad name or cmd clash. */
export function flatten(routes: Router): Map<string, Route> {
  const out = new Map<string, Route>();
  const procedureCmds = new Map<number, string>();
  const eventCmds = new Map<number, string>();
  const walk = (node: Router, prefix: string) => {
    if (typeof node !== "object" || node === null) throw new TypeError(`router entry "${prefix}" is not an object`);
    for (const name of Object.keys(node)) {
      const path = prefix === "" ? name : `${prefix}.${name}`;
      if (!NAME.test(name)) {
        throw new TypeError(`router name "${path}": use letters, digits, "_" and "-", not starting with a digit`);
      }
      if (RESERVED_NAMES.includes(name)) throw new TypeError(`router name "${path}": "${name}" is reserved`);
      if (new TextEncoder().encode(path).length > MAX_PATH_BYTES) {
        throw new TypeError(`router path "${path}" is longer than ${MAX_PATH_BYTES} bytes`);
      }
      const entry = node[name];
      if (isProcedure(entry) || isEvent(entry)) {
        const cmds = isProcedure(entry) ? procedureCmds : eventCmds;
        if (entry.cmd !== undefined) {
          const reserved = isProcedure(entry) ? PROCEDURE_CMD : EVENT_CMD;
          if (entry.cmd === reserved) {
            throw new TypeError(`"${path}" is pinned to cmd ${entry.cmd}, which carries every ${entry.kind} by name`);
          }
          const clash = cmds.get(entry.cmd);
          if (clash !== undefined) throw new TypeError(`"${path}" and "${clash}" are both pinned to cmd ${entry.cmd}`);
          cmds.set(entry.cmd, path);
        }
        out.set(path, { path, definition: entry });
      } else {
        walk(entry as Router, path);
      }
    }
  };
  walk(routes, "");
  return out;
}

/** The handlers a contract needs, shaped like the contract (events take none). */
export type HandlersOf<R, C = Context> = {
  [K in keyof R as R[K] extends AnyEvent ? never : K]: R[K] extends
    Procedure<infer S extends Shape, infer I extends Schema, infer O extends Schema, infer _> ? HandlerOf<S, I, O, C>
    : HandlersOf<R[K], C>;
};

/** A contract's procedures with `C`-typed handlers. */
export type Implemented<R, C> = {
  [K in keyof R]: R[K] extends Procedure<infer S extends Shape, infer I extends Schema, infer O extends Schema, infer _>
    ? Procedure<S, I, O, C>
    : R[K] extends AnyEvent ? R[K]
    : Implemented<R[K], C>;
};

/**
 * Gives a contract (procedures without handlers, shared with clients) its handlers. The
 * result serves like a router defined with handlers inline, and has the contract's type.
 */
export function implement<const R extends Router, C = Context>(
  contract: R,
  handlers: HandlersOf<R, C>,
): Implemented<R, C> {
  const build = (node: Router, impl: Record<string, unknown>, prefix: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [name, entry] of Object.entries(node)) {
      const path = prefix === "" ? name : `${prefix}.${name}`;
      if (isEvent(entry)) {
        out[name] = entry;
      } else if (isProcedure(entry)) {
        const handler = impl?.[name];
        if (typeof handler !== "function") throw new TypeError(`implement: no handler for "${path}"`);
        out[name] = Object.freeze({ ...entry, handler });
      } else {
        out[name] = build(entry as Router, (impl?.[name] ?? {}) as Record<string, unknown>, path);
      }
    }
    return out;
  };
  flatten(contract);
  return build(contract, handlers as Record<string, unknown>, "") as Implemented<R, C>;
}
