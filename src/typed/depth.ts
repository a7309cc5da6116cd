/**
 * The nesting limit on typed inputs. A deeply nested value costs every caller of the server:
 * a million levels of JSON under the frame limit took 0.6-1.9 s of CPU to parse and validate
 * (other clients waited), and a recursive (`v.lazy`) schema overflowed the stack. So an input
 * nested deeper than the limit is refused with `invalid_argument` before it is parsed (JSON,
 * read from its bytes) or, for other codecs, before it is validated.
 */
import type { Codec } from "../codec/types.ts";
import { json, jsonNestsDeeperThan } from "../codec/json.ts";
import { RpcError } from "../common/errors.ts";

/** Arrays and objects within arrays and objects, at most: `serve(..., { maxDepth })` changes it. */
export const DEFAULT_MAX_DEPTH = 64;

/** True when `value` nests arrays and objects more than `max` deep (no cycles: it was decoded). */
export function nestsDeeperThan(value: unknown, max: number, depth = 0): boolean {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return false;
  if (depth + 1 > max) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeperThan(item, max, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeperThan((value as Record<string, unknown>)[key], max, depth + 1)) return true;
  return false;
}

function tooDeep(what: string, max: number): RpcError {
  return new RpcError("invalid_argument", `${what} nests deeper than ${max} levels (the server's maxDepth)`);
}

/** Throws `invalid_argument` when JSON `bytes` nest too deep: call before parsing. */
export function checkBytesDepth(codec: Codec, bytes: Uint8Array, max: number, what: string): void {
  if (codec === json && jsonNestsDeeperThan(bytes, max)) throw tooDeep(what, max);
}

/** Throws `invalid_argument` when a value another codec decoded nests too deep: call before validating. */
export function checkValueDepth(codec: Codec, bytes: Uint8Array, value: unknown, max: number, what: string): void {
  // JSON was checked on its bytes; a value d levels deep took d bytes at least.
  if (codec !== json && bytes.length > max && nestsDeeperThan(value, max)) throw tooDeep(what, max);
}
