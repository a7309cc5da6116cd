/**
 * Validation with valibot: inputs before a handler runs, outputs before they leave,
 * stream items one by one. A failure is an RpcError whose details list valibot's issues.
 */
import * as v from "valibot";
import { type ErrorCode, RpcError } from "../common/errors.ts";
import type { Schema } from "./procedure.ts";

/** One validation problem, as it travels in an error's details. */
export interface Issue {
  /** Where in the value, dotted ("items.2.name"); absent for the value itself. */
  readonly path?: string;
  readonly message: string;
}

/** The details of a validation error. */
export interface ValidationDetails {
  readonly issues: readonly Issue[];
}

/**
 * `value` parsed by `schema` (its transforms applied), or a promise of it for an async
 * schema; throws (or rejects with) an RpcError of `code` naming `what` and each issue.
 */
export function validate(schema: Schema, value: unknown, what: string, code: ErrorCode): unknown {
  if (schema.async) {
    return v.safeParseAsync(schema, value).then((result) => {
      if (result.success) return result.output;
      throw validationError(result.issues, what, code);
    });
  }
  const result = v.safeParse(schema as v.GenericSchema, value);
  if (result.success) return result.output;
  throw validationError(result.issues, what, code);
}

function validationError(issues: readonly v.BaseIssue<unknown>[], what: string, code: ErrorCode): RpcError {
  const list: Issue[] = issues.map((issue) => {
    const path = v.getDotPath(issue);
    return path === null ? { message: issue.message } : { path, message: issue.message };
  });
  const first = list[0];
  const summary = first === undefined ? "" : `: ${first.path === undefined ? "" : `${first.path}: `}${first.message}`;
  const more = list.length > 1 ? ` (and ${list.length - 1} more)` : "";
  return new RpcError(code, `invalid ${what}${summary}${more}`, { details: { issues: list } satisfies ValidationDetails });
}
