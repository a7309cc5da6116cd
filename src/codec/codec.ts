/**
 * Payload serializers ("codecs"): how a value becomes a frame's payload and back.
 *
 * qrpc payloads are plain bytes, and "raw" keeps them so. "json" and "msgpack" turn any
 * value of their format into bytes; only "msgpack" carries binary data (Uint8Array).
 * Each codec is a module of its own (raw.ts, json.ts, msgpack.ts): an application that
 * imports only raw.ts or json.ts does not pull msgpackr into its bundle; this registry
 * imports all three.
 *
 * Contract for every codec:
 * - encode(value) returns the payload bytes, or throws a TypeError for a value the format
 *   cannot carry (the message says what and, where it helps, what to use instead).
 * - decode(bytes) returns the value, or throws a CodecError for bytes that are not exactly
 *   one valid value of the format. It never blocks and never returns a value it knows to
 *   be corrupt.
 * - Both are synchronous and stateless between calls; a codec object can be shared by any
 *   number of connections.
 */
import { json } from "./json.ts";
import { msgpack } from "./msgpack.ts";
import { raw } from "./raw.ts";

export { CodecError } from "./errors.ts";

export interface Codec {
  /** The wire name: how peers refer to this codec, and its key in `codecs`. */
  readonly name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** The built-in codecs by wire name: "raw", "json", "msgpack". A null-prototype object. */
export const codecs: Record<string, Codec> = Object.assign(Object.create(null) as Record<string, Codec>, {
  [raw.name]: raw,
  [json.name]: json,
  [msgpack.name]: msgpack,
});

/** The codec with wire name `name`, or undefined if there is none ("toString" included). */
export function codecNamed(name: string): Codec | undefined {
  return Object.hasOwn(codecs, name) ? codecs[name] : undefined;
}

export { json, msgpack, raw };
