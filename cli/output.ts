/**
 * What the command line prints: values as one JSON line each, reply bytes as text when they
 * are printable UTF-8 else as hex, and input bytes read from hex, text or a file.
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { usage } from "./errors.ts";

/** Writes one line to stdout, waiting for it to drain (so a pipe gets every line). */
export function printLine(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(`${text}\n`, (error) => (error ? reject(error) : resolve()));
  });
}

/** A value as one JSON line (`Uint8Array`, from MessagePack, as hex; `undefined` as null). */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value ?? null, (_, v) => (v instanceof Uint8Array ? `0x${toHex(v)}` : v));
}

/** A value as indented JSON, for a person to read. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Reply bytes as text when they are printable UTF-8 (newlines and tabs allowed), else `0x…` hex. */
export function bytesForDisplay(bytes: Uint8Array): string {
  if (bytes.length === 0) return "";
  try {
    const text = strictUtf8.decode(bytes);
    // deno-lint-ignore no-control-regex
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return text;
  } catch {
    // not UTF-8: hex below
  }
  return `0x${toHex(bytes)}`;
}

/** `--data`: `0x…` hex, `@file` (its bytes), or else the text as UTF-8. */
export async function bytesFromArgument(text: string): Promise<Uint8Array> {
  if (/^0x/i.test(text)) {
    const hex = text.slice(2);
    if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) throw usage(`--data ${text}: not an even number of hex digits`);
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return bytes;
  }
  if (text.startsWith("@")) {
    try {
      return new Uint8Array(await readFile(text.slice(1)));
    } catch (error) {
      throw usage(`--data ${text}: ${(error as Error).message}`);
    }
  }
  return new TextEncoder().encode(text);
}

/** A JSON argument parsed; bad JSON is a usage error (exit 2) naming `what`. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw usage(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}
