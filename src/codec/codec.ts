/**
 * The codecs layer (`@weft/rpc/codec`): payload serializers, how a value becomes a frame's
 * payload and back. It may import `common/` only; the engine never needs it (a connection
 * agrees on a codec by name), the typed layer does.
 *
 * qrpc payloads are plain bytes, and "raw" keeps them so. "json" and "msgpack" turn any
 * value of their format into bytes; only "msgpack" carries binary data (Uint8Array).
 * Each codec is a module of its own (raw.ts, json.ts, msgpack.ts): an application that
 * imports only raw.ts or json.ts does not pull msgpackr into its bundle; this registry
 * imports all three. The contract every codec keeps is in types.ts.
 *
 * @module
 */
import { json } from "./json.ts";
import { msgpack } from "./msgpack.ts";
import { raw } from "./raw.ts";
import type { Codec } from "./types.ts";

export { CodecError } from "./errors.ts";
export type { Codec } from "./types.ts";

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
