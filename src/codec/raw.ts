/**
 * The raw codec: the payload is the bytes themselves, as in qrpc, whose payloads are plain
 * byte slices. Nothing is copied either way.
 */
import type { Codec } from "./types.ts";
import { describeType } from "./errors.ts";

/** Wire name of the raw codec. */
export const RAW = "raw";

function isBytes(value: unknown): value is Uint8Array {
  // instanceof first (the common case, and fast); the tag check accepts a Uint8Array from
  // another realm (an iframe, a vm context), whose constructor is a different object.
  return value instanceof Uint8Array ||
    (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === "[object Uint8Array]");
}

export const raw: Codec = {
  name: RAW,

  /** Returns `value` itself, which must be a Uint8Array (a Node Buffer is one). */
  encode(value: unknown): Uint8Array {
    if (isBytes(value)) return value;
    const hint = value instanceof ArrayBuffer
      ? " (wrap it: new Uint8Array(buffer))"
      : ArrayBuffer.isView(value)
      ? " (view its bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength))"
      : typeof value === "string"
      ? " (encode it first, e.g. new TextEncoder().encode(text), or use the json codec)"
      : "";
    throw new TypeError(`weft raw codec: encode takes a Uint8Array, got ${describeType(value)}${hint}`);
  },

  /** Returns `bytes` as they are: a view into the received frame, not a copy. */
  decode(bytes: Uint8Array): Uint8Array {
    return bytes;
  },
};
