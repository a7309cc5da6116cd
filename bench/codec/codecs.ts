/**
 * The codecs the codec bench compares (BENCH_CODECS picks some): weft's JSON codec, weft's
 * MessagePack codec (msgpackr), and CBOR (cbor-x, set up as src/codec/msgpack.ts sets up
 * msgpackr) when cbor-x is installed, with whether each library's native decoder is on.
 */
import process from "node:process";
import type { Codec } from "../../src/codec/codec.ts";
import { json as jsonCodec } from "../../src/codec/json.ts";
import { msgpack } from "../../src/codec/msgpack.ts";
import { runtime } from "../harness/runtime.ts";
import { envList } from "../harness/settings.ts";

export interface Candidate {
  name: string;
  codec: Codec;
  /** Whether the library's native string decoder is on (null: no such thing). */
  native: boolean | null;
}

const ONLY_CODECS = envList(process.env.BENCH_CODECS);

/**
 * cbor-x wrapped the way src/codec/msgpack.ts wraps msgpackr: standard CBOR (byte strings
 * for Uint8Array, no tag 64; maps for objects, no records), plain Uint8Array views in and
 * out. Null when cbor-x is not installed.
 */
async function cborCandidate(): Promise<Candidate | null> {
  // deno-lint-ignore no-explicit-any
  let lib: any;
  if (runtime !== "node") {
    // cbor-x's native string decoder (cbor-extract 2.2) misdecodes plain maps on Bun
    // ("Unexpected end of buffer" on list100) and kills Deno ("symbol lookup error"):
    // measure its pure-JS decoder there. The library reads this when it is imported.
    process.env.CBOR_NATIVE_ACCELERATION_DISABLED = "true";
  }
  try {
    const specifier = "cbor-x"; // not a literal import: weft does not depend on cbor-x
    lib = await import(specifier);
  } catch {
    return null;
  }
  const cbor = new lib.Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
  const view = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return {
    name: "cbor-x",
    native: Boolean(lib.isNativeAccelerationEnabled),
    codec: {
      name: "cbor",
      encode(value: unknown): Uint8Array {
        const out: Uint8Array = cbor.encode(value);
        return out.constructor === Uint8Array ? out : view(out);
      },
      decode(bytes: Uint8Array): unknown {
        return cbor.decode(view(bytes));
      },
    },
  };
}

/** The codecs to measure, and those skipped (with why). */
export async function candidates(): Promise<{ list: Candidate[]; skipped: string[] }> {
  const msgpackr = await import("msgpackr");
  const list: Candidate[] = [
    { name: "json", codec: jsonCodec, native: null },
    { name: "msgpackr", codec: msgpack, native: Boolean(msgpackr.isNativeAccelerationEnabled) },
  ];
  const skipped: string[] = [];
  const cbor = await cborCandidate();
  if (cbor === null) skipped.push("cbor-x (not installed: npm install --no-save cbor-x)");
  else list.push(cbor);
  return { list: list.filter((c) => ONLY_CODECS === null || ONLY_CODECS.includes(c.name)), skipped };
}
