/**
 * One call by name, the way the command line makes it: its input a value or a stream of
 * values, its reply walked item by item (a unary reply is one item), whatever its shape.
 */
import type { Connection } from "../mod.ts";
import { Caller, type ProcedureCallOptions } from "../src/typed/caller.ts";
import { TypedCall } from "../src/typed/typed_call.ts";

/** Calls `name` on `connection` with `input` (an async iterable is a request stream). */
export function callByName(
  connection: Connection,
  name: string,
  input: unknown,
  options: ProcedureCallOptions,
): TypedCall<unknown> {
  const caller = new Caller(connection, {});
  return new TypedCall(caller, caller.target(name), input, options);
}
