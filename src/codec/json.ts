/**
 * The JSON codec: JSON text in UTF-8.
 *
 * JSON has no bytes type, and weft does not smuggle bytes through it (no base64, no
 * `{"0":1,"1":2}` objects, no `{"type":"Buffer"}`): a Uint8Array, or any other ArrayBuffer
 * view or ArrayBuffer, anywhere in the value is refused with a TypeError that points at
 * the binary codec.
 *
 * Encoding is one JSON.stringify and one TextEncoder.encode. Before it, a quick walk over
 * the value's objects looks for binary data; JSON.stringify's replacer would do the same
 * but costs 2-5x more on every call, so it is kept for the rare values the walk cannot
 * vouch for (objects with their own toJSON, nesting deeper than 64 levels, cycles).
 */
import { pooledText } from "../common/byte_pool.ts";
import type { Codec } from "./types.ts";
import { CodecError, describeType } from "./errors.ts";

/** Wire name of the JSON codec. */
export const JSON_CODEC = "json";

/** Non-fatal: the fast path. A U+FFFD in its output sends the bytes to `strictDecoder`. */
const decoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Deeper than this, the walk gives up and the replacer path takes over (it also catches cycles). */
const MAX_WALK_DEPTH = 64;

function isBinary(value: unknown): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

function binaryError(value: unknown, where: string): TypeError {
  return new TypeError(
    `weft json codec: ${describeType(value)} ${where} cannot travel in JSON; ` +
      `use the binary codec ("msgpack"), which carries bytes as they are`,
  );
}

/** "at params.data", "at items[3].blob", "as the value itself". */
function describePath(path: (string | number)[]): string {
  if (path.length === 0) return "as the value itself";
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) text += text === "" ? part : `.${part}`;
    else text += `[${JSON.stringify(part)}]`;
  }
  return `at ${text}`;
}

/** Where the first binary value is (for the error message only: the slow path). */
function findBinary(value: unknown, path: (string | number)[], seen: Set<object>): (string | number)[] | null {
  if (typeof value !== "object" || value === null) return null;
  if (isBinary(value)) return path;
  if (seen.has(value)) return null;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findBinary(value[i], [...path, i], seen);
      if (found !== null) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const found = findBinary((value as Record<string, unknown>)[key], [...path, key], seen);
    if (found !== null) return found;
  }
  return null;
}

/**
 * True when JSON.stringify(value) will meet no binary data: throws the TypeError if the
 * walk finds some, and returns false when it cannot tell (a toJSON other than Date's,
 * deeper than MAX_WALK_DEPTH).
 */
function walk(value: object, depth: number, root: unknown): boolean {
  if (depth > MAX_WALK_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "object" && item !== null && !walk(item, depth + 1, root)) return false;
    }
    return true;
  }
  if (isBinary(value)) {
    throw binaryError(value, describePath(findBinary(root, [], new Set()) ?? []));
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value instanceof Date;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === "object" && item !== null && !walk(item, depth + 1, root)) return false;
  }
  return true;
}

/** The replacer of the slow path: sees every value after toJSON, and the holder's original. */
function refuseBinary(this: unknown, key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null) {
    const original = (this as Record<string, unknown>)[key];
    if (isBinary(value) || isBinary(original)) {
      const what = isBinary(original) ? original : value;
      throw binaryError(what, key === "" ? "as the value itself" : `at key ${JSON.stringify(key)}`);
    }
  }
  return value;
}

/** The JSON text `encode` would send, with the same checks (no binary data, nothing JSON drops). */
export function stringify(value: unknown): string {
  let text: string | undefined;
  if (typeof value === "object" && value !== null) {
    // The walk throws for binary data; its TypeError goes out as it is.
    const vouched = walk(value, 0, value);
    try {
      text = vouched ? JSON.stringify(value) : JSON.stringify(value, refuseBinary);
    } catch (error) {
      if (error instanceof TypeError && error.message.startsWith("weft json codec:")) throw error;
      throw new TypeError(`weft json codec: cannot encode the value as JSON: ${(error as Error)?.message ?? error}`, {
        cause: error,
      });
    }
  } else {
    try {
      text = JSON.stringify(value);
    } catch (error) {
      // A bigint.
      throw new TypeError(`weft json codec: cannot encode the value as JSON: ${(error as Error)?.message ?? error}`, {
        cause: error,
      });
    }
  }
  if (text === undefined) {
    throw new TypeError(`weft json codec: ${describeType(value)} has no JSON form (send null instead)`);
  }
  return text;
}

export const json: Codec = {
  name: JSON_CODEC,

  /**
   * JSON text of `value` in UTF-8 (short texts are views into a shared slab: mind
   * `byteOffset` when reading `.buffer`). Throws a TypeError for binary data anywhere in the
   * value, and for what JSON.stringify refuses or drops (bigint, cycles, a top-level
   * undefined, function or symbol).
   */
  encode(value: unknown): Uint8Array {
    return pooledText(stringify(value));
  },

  /** Parses the UTF-8 JSON text in `bytes`. Throws a CodecError if it is not valid UTF-8 or not valid JSON. */
  decode(bytes: Uint8Array): unknown {
    const text = decoder.decode(bytes);
    // U+FFFD is what the non-fatal decoder puts for bad UTF-8, but it may also be a real
    // character: only then is the strict decoder asked (indexOf is cheap; decoding twice is not).
    if (text.indexOf("\uFFFD") !== -1) {
      try {
        strictDecoder.decode(bytes);
      } catch (error) {
        throw new CodecError(JSON_CODEC, "weft json codec: the payload is not valid JSON: it is not valid UTF-8", {
          cause: error,
        });
      }
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      const detail = bytes.length === 0 ? "it is empty" : (error as Error)?.message ?? String(error);
      throw new CodecError(JSON_CODEC, `weft json codec: the payload is not valid JSON: ${detail}`, { cause: error });
    }
  },
};

const OPEN_ARRAY = 0x5b; // [
const OPEN_OBJECT = 0x7b; // {
const CLOSE_ARRAY = 0x5d; // ]
const CLOSE_OBJECT = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * True when the JSON text in `bytes` nests arrays and objects more than `max` deep, read
 * from the bytes before any parsing (brackets inside strings do not count; the text need not
 * be valid). A text of `max` bytes or less is not read at all. One pass, about 0.8 ns a byte
 * (a fifth to a third of what JSON.parse takes on V8; parsing a million levels took 0.4-0.8 s).
 * Counting brackets first with native `indexOf` was slower: each call costs more than the
 * bytes it skips.
 */
export function jsonNestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  if (bytes.length <= max) return false; // d levels take d bytes at least
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      for (i++; i < bytes.length; i++) {
        const c = bytes[i];
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) break;
      }
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}
