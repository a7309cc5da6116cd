/**
 * How typed calls and events look on qrpc's frames (docs/PROTOCOL.md §14).
 *
 * A call by name goes to cmd PROCEDURE_CMD; its first frame's payload starts with the
 * procedure's name: one length byte, then the name in UTF-8. What follows is the encoded
 * input (unary, serverStream), or nothing (the request stream's items follow in later
 * frames). Events by name go to EVENT_CMD the same way. A procedure pinned to a cmd is
 * also served there with plain payloads, for qrpc peers. In every stream an empty frame
 * carries no item (qrpc ends streams with one).
 */
import type { Codec } from "../codec/types.ts";
import { codecNamed } from "../codec/codec.ts";
import { json, stringify } from "../codec/json.ts";
import { pooledConcat, pooledText } from "../common/byte_pool.ts";
import type { Connection } from "../engine/connection.ts";
import { RpcError } from "../common/errors.ts";
import type { Schema } from "./procedure.ts";
import { validate } from "./validate.ts";
import { checkBytesDepth, checkValueDepth } from "./depth.ts";

/** The cmd of calls by name (the top of the 16-bit routing range). */
export const PROCEDURE_CMD = 0xffff;
/** The cmd of events by name. */
export const EVENT_CMD = 0xfffe;
/** The name of the reflection procedure (names starting with "$" are weft's). */
export const DESCRIBE_PROCEDURE = "$weft.describe";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A name's prefix: its length in one byte, then its UTF-8 bytes. Made once per name. */
export function namePrefix(path: string): Uint8Array {
  const name = encoder.encode(path);
  if (name.length > 255) throw new RangeError(`procedure name "${path}" is longer than 255 bytes`);
  const prefix = new Uint8Array(1 + name.length);
  prefix[0] = name.length;
  prefix.set(name, 1);
  return prefix;
}

/** The prefix followed by `body`, in one buffer. */
export function withPrefix(prefix: Uint8Array, body: Uint8Array): Uint8Array {
  return body.length === 0 ? prefix : pooledConcat(prefix, body);
}

/** The length of the name at the start of `payload`; throws `invalid_argument` when there is none. */
export function nameLength(payload: Uint8Array): number {
  const length = payload.length > 0 ? payload[0] : 0;
  if (length === 0 || payload.length < 1 + length) {
    throw new RpcError("invalid_argument", "malformed call by name: the payload must start with a length byte and the name");
  }
  return length;
}

/** The name at the start of `payload`, and where the rest starts; throws `invalid_argument`. */
export function readName(payload: Uint8Array): { name: string; offset: number } {
  const length = nameLength(payload);
  return { name: decoder.decode(payload.subarray(1, 1 + length)), offset: 1 + length };
}

/**
 * Values by name, looked up straight from a payload's name bytes: no string is built on
 * the way (a hash of the bytes, then a byte comparison).
 */
export class NameTable<T> {
  readonly #byHash = new Map<number, Array<{ name: Uint8Array; value: T }>>();

  set(name: string, value: T): void {
    const bytes = encoder.encode(name);
    const hash = hashBytes(bytes, 0, bytes.length);
    const bucket = this.#byHash.get(hash);
    if (bucket === undefined) this.#byHash.set(hash, [{ name: bytes, value }]);
    else bucket.push({ name: bytes, value });
  }

  /** The value named by the first `length` bytes after `payload[0]`. */
  find(payload: Uint8Array, length: number): T | undefined {
    const bucket = this.#byHash.get(hashBytes(payload, 1, length));
    if (bucket === undefined) return undefined;
    for (const entry of bucket) {
      const name = entry.name;
      if (name.length !== length) continue;
      let i = 0;
      while (i < length && name[i] === payload[1 + i]) i++;
      if (i === length) return entry.value;
    }
    return undefined;
  }
}

/** FNV-1a over bytes[start, start+length). */
function hashBytes(bytes: Uint8Array, start: number, length: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < start + length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash >>> 0;
}

/**
 * The codec typed payloads use on a connection: the one it agreed on ("raw" carries no
 * values, so JSON stands in for it).
 */
export function codecOf(connection: Connection): Codec {
  const name = connection.codec;
  if (name === "raw" || name === "json") return json;
  const codec = codecNamed(name);
  if (codec === undefined) throw new RpcError("unimplemented", `no codec named "${name}" for typed calls`);
  return codec;
}

const EMPTY = new Uint8Array(0);

/**
 * Decodes one payload, turning codec failures into `invalid_argument` (from the caller)
 * or `internal`. An empty payload is `undefined` (a procedure with no input, say).
 */
export function decodeWith(
  codec: Codec,
  bytes: Uint8Array,
  what: string,
  code: "invalid_argument" | "internal",
): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw new RpcError(code, `${what} is not valid ${codec.name}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Encodes one value (`undefined` as an empty payload), after `prefix` if given; a value the
 * codec cannot carry is the sender's fault. JSON is written straight after the prefix.
 */
export function encodeWith(
  codec: Codec,
  value: unknown,
  what: string,
  code: "invalid_argument" | "internal",
  prefix?: Uint8Array,
): Uint8Array {
  if (value === undefined) return prefix ?? EMPTY;
  try {
    if (codec === json) return pooledText(stringify(value), prefix);
    return prefix === undefined ? codec.encode(value) : withPrefix(prefix, codec.encode(value));
  } catch (error) {
    throw new RpcError(code, `${what} cannot be encoded as ${codec.name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** How errors name a procedure's values: made once per procedure, not per call. */
export interface Labels {
  readonly input: string;
  readonly output: string;
  readonly inputItem: string;
  readonly outputItem: string;
}

export function labelsOf(path: string): Labels {
  return {
    input: `input of "${path}"`,
    output: `output of "${path}"`,
    inputItem: `input item of "${path}"`,
    outputItem: `item of "${path}"`,
  };
}

/**
 * One payload decoded and, when there is a schema, validated: the value (a promise of it
 * for an async schema), or an RpcError of `code` naming `what`. With `maxDepth` (inputs),
 * one nested deeper is refused with `invalid_argument` before it is parsed or validated.
 */
export function decodeChecked(
  codec: Codec,
  bytes: Uint8Array,
  schema: Schema | null,
  what: string,
  code: "invalid_argument" | "internal",
  maxDepth?: number,
): unknown {
  if (maxDepth !== undefined) checkBytesDepth(codec, bytes, maxDepth, what);
  const value = decodeWith(codec, bytes, what, code);
  if (maxDepth !== undefined) checkValueDepth(codec, bytes, value, maxDepth, what);
  return schema === null ? value : validate(schema, value, what, code);
}
