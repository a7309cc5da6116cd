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
import type { Codec } from "../codec/codec.ts";
import { codecNamed } from "../codec/codec.ts";
import { json } from "../codec/json.ts";
import type { Connection } from "../connection.ts";
import { RpcError } from "../errors.ts";

/** The cmd of calls by name (the top of the 16-bit routing range). */
export const PROCEDURE_CMD = 0xffff;
/** The cmd of events by name. */
export const EVENT_CMD = 0xfffe;

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
  if (body.length === 0) return prefix;
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** The name at the start of `payload`, and where the rest starts; throws `invalid_argument`. */
export function readName(payload: Uint8Array): { name: string; offset: number } {
  const length = payload.length > 0 ? payload[0] : -1;
  if (length <= 0 || payload.length < 1 + length) {
    throw new RpcError("invalid_argument", "malformed call by name: the payload must start with a length byte and the name");
  }
  return { name: readAscii(payload, 1, length) ?? decoder.decode(payload.subarray(1, 1 + length)), offset: 1 + length };
}

/** Short ASCII names decode faster by hand than through TextDecoder; null if not ASCII. */
function readAscii(bytes: Uint8Array, start: number, length: number): string | null {
  let name = "";
  for (let i = start; i < start + length; i++) {
    const byte = bytes[i];
    if (byte >= 0x80) return null;
    name += String.fromCharCode(byte);
  }
  return name;
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

/** Encodes one value (`undefined` as an empty payload); a value the codec cannot carry is the sender's fault. */
export function encodeWith(
  codec: Codec,
  value: unknown,
  what: string,
  code: "invalid_argument" | "internal",
): Uint8Array {
  if (value === undefined) return EMPTY;
  try {
    return codec.encode(value);
  } catch (error) {
    throw new RpcError(code, `${what} cannot be encoded as ${codec.name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
