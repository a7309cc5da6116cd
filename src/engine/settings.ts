/**
 * What a server accepts in a client's SETTINGS (docs/PROTOCOL.md §13): the codec,
 * compression format and checksum it offered in HELLO, and metadata as string pairs.
 * Pure functions, so the handshake keeps to the order of events.
 */
import type { ErrorCode } from "../common/errors.ts";
import type { CompressionFormat } from "../wire/compression.ts";
import type { SettingsMessage } from "../wire/control.ts";

/** The codecs a server reads unless told otherwise (one array for every connection). */
export const DEFAULT_CODECS: readonly string[] = ["raw", "json", "msgpack"];

/** No metadata: one frozen object for every connection that has none. */
export const NO_METADATA: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The CompressionStream formats every runtime weft supports has (src/wire/compression.ts). */
export const COMPRESSION_FORMATS: readonly string[] = ["gzip", "deflate", "deflate-raw"];

/** Metadata as string pairs only: anything else from the wire is dropped. */
export function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== "object" || value === null) return out;
  for (const [key, item] of Object.entries(value)) if (typeof item === "string") out[key] = item;
  return out;
}

/**
 * Why a server refuses these settings (a code and a message for the client's ERROR), or
 * null when it takes them: a codec, compression format or checksum it does not offer.
 */
export function refusedSettings(
  settings: SettingsMessage,
  codecsAccepted: readonly string[],
  compressionOption: CompressionFormat | false | undefined,
  checksumOption: boolean | undefined,
): [ErrorCode, string] | null {
  if (settings.codec !== undefined && !codecsAccepted.includes(String(settings.codec))) {
    return ["unimplemented", `unknown codec "${settings.codec}" (this server reads: ${codecsAccepted.join(", ")})`];
  }
  const compression = settings.compression;
  if (compression !== undefined && compression !== null) {
    if (compressionOption === false || !COMPRESSION_FORMATS.includes(String(compression))) {
      return ["unimplemented", `compression "${compression}" is not offered by this server`];
    }
  }
  const checksum = settings.checksum;
  if (checksum !== undefined && checksum !== null && (checksum !== "crc32" || checksumOption === false)) {
    return ["unimplemented", `checksum "${checksum}" is not offered by this server`];
  }
  return null;
}
