/**
 * The binary codec: MessagePack (https://msgpack.org), through msgpackr.
 *
 * A Uint8Array travels as MessagePack bin (its bytes as they are) and comes back as a
 * plain Uint8Array, at any depth. Objects are standard MessagePack maps, readable by any
 * MessagePack library (Go's included): msgpackr's "records" extension is off. Strings are
 * str, numbers the smallest int that holds them or float64, Date the timestamp extension
 * (-1), undefined msgpackr's fixext 0 (other libraries may refuse it: send null to them).
 *
 * Decoding:
 * - 64-bit integers come back as numbers when they are within 2^53 and as bigints beyond
 *   (msgpackr's `int64AsType: "auto"`), so a peer that always writes int64 still yields
 *   numbers.
 * - bin values are views into the payload, which is itself a view into the received
 *   chunk (as with the raw codec): nothing is copied. Copy one (`bytes.slice()`) to keep
 *   it long without keeping the chunk alive.
 * - Anything that is not exactly one well-formed MessagePack value throws a CodecError:
 *   truncated data, bytes left over, the never-used byte 0xc1 (which msgpackr itself
 *   returns as a marker object), unknown extension types, lengths past the end of the
 *   data (refused before any allocation).
 *
 * No code generation at run time, so it runs where `eval` and `new Function` are refused
 * (Cloudflare Workers, pages with a strict CSP). msgpackr compiles readers with
 * `new Function` only for records, which this codec never writes; a peer can still send
 * msgpackr records (ext 0x72), and then msgpackr's compile attempt sits in a try/catch
 * that falls back to its interpreted reader where code generation is refused (msgpackr
 * 1.11.10 and later; package.json asks for ^2.1.3). Nothing else in msgpackr's pack and
 * unpack generates code.
 *
 * Why MessagePack rather than CBOR: bench/codec.ts measures msgpackr as fast as or faster
 * than cbor-x on our messages on Bun, Deno and Node. cbor-x's native decoder misdecodes on
 * Bun and kills Deno, and its code-generation guard is a start-up probe, which Workers
 * defeat because they allow eval during start-up only.
 *
 * Runtime-agnostic: plain `import ... from "msgpackr"`. Bundlers for browsers and Workers
 * take msgpackr's "browser"/"default" entry (pure JS, TextEncoder/TextDecoder); Node, Bun
 * and Deno take its "node" entry, which also loads the optional native string decoder
 * (msgpackr-extract) when it is installed, and falls back to pure JS when it is not.
 */
import { C1, Packr, type Options } from "msgpackr";
import type { Codec } from "./types.ts";
import { CodecError } from "./errors.ts";

/** Wire name of the MessagePack codec. */
export const MSGPACK = "msgpack";

const packr = new Packr({
  // Plain MessagePack maps for objects: no msgpackr records, so any MessagePack reader can
  // decode what we write, and the record reader's code generation is never needed for it.
  useRecords: false,
  // Implied by useRecords: false; spelled out because decoding maps as Map would change
  // what handlers receive.
  mapsAsObjects: true,
  // int64/uint64 as numbers within 2^53, bigints beyond. ("auto" is documented and
  // implemented by msgpackr, but missing from its type declarations.)
  int64AsType: "auto" as Options["int64AsType"],
});

/** Up to this many bytes, a search for the byte 0xc1 decides whether the decoded value is walked. */
const SEARCH_LIMIT = 1024;

/** A plain Uint8Array over the same memory, so Node/Bun Buffers never reach the user. */
function plainView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True if the decoded value holds msgpackr's marker for the byte 0xc1, at any depth. */
function holdsC1(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (value === C1) return true;
  if (ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsC1(value[i])) return true;
    return false;
  }
  if (value instanceof Map) {
    for (const [key, item] of value) if (holdsC1(key) || holdsC1(item)) return true;
    return false;
  }
  for (const key in value) if (holdsC1((value as Record<string, unknown>)[key])) return true;
  return false;
}

/** msgpackr's message, made short and free of payload content. */
function reason(error: unknown, bytes: Uint8Array): string {
  if (bytes.length === 0) return "it is empty";
  const message = error instanceof Error ? error.message : String(error);
  // "Data read, but end of buffer not reached <JSON of the value>": keep the data out of it.
  if (message.startsWith("Data read, but end of buffer not reached")) return "bytes are left over after the value";
  if (message.startsWith("Unexpected end of MessagePack data")) return "it ends in the middle of a value";
  return message;
}

export const msgpack: Codec = {
  name: MSGPACK,

  /** MessagePack bytes of `value`. Throws a TypeError for what MessagePack cannot hold (a bigint past 64 bits). */
  encode(value: unknown): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = packr.pack(value);
    } catch (error) {
      throw new TypeError(`weft msgpack codec: cannot encode the value: ${(error as Error)?.message ?? error}`, {
        cause: error,
      });
    }
    // On Node and Bun msgpackr writes into a Buffer; hand on a plain view of the same bytes.
    return bytes.constructor === Uint8Array ? bytes : plainView(bytes);
  },

  /** The value in `bytes`, which must hold exactly one MessagePack value. Throws a CodecError otherwise. */
  decode(bytes: Uint8Array): unknown {
    // Our own view: bin values decoded from it are plain Uint8Arrays (never Buffers), and the
    // DataView msgpackr caches on its source lands on this object, not on the caller's.
    const source = plainView(bytes);
    let value: unknown;
    try {
      value = packr.unpack(source);
    } catch (error) {
      throw new CodecError(MSGPACK, `weft msgpack codec: the payload is not valid MessagePack: ${reason(error, bytes)}`, {
        cause: error,
      });
    }
    // msgpackr reads 0xc1 as a marker object instead of failing: look for it. Only a
    // payload that holds the byte can hold the marker; searching for the byte is cheaper
    // than walking the value for small payloads, but on V8 (Node, Deno) indexOf costs
    // ~0.4 ns a byte, more than the walk for bigger ones, and binary data holds 0xc1 anyway.
    if (
      typeof value === "object" && value !== null &&
      (value === C1 || ((source.length > SEARCH_LIMIT || source.indexOf(0xc1) !== -1) && holdsC1(value)))
    ) {
      throw new CodecError(MSGPACK, "weft msgpack codec: the payload is not valid MessagePack: it holds the never-used byte 0xc1");
    }
    return value;
  },
};
