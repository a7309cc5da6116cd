/**
 * The per-call extension block: what a weft frame carries beyond qrpc's header
 * (metadata, trailers, a deadline, the flow-control mark).
 *
 * Once both ends have negotiated (PROTOCOL.md §13), flag 0x40 on a call's frame means its
 * payload starts with a block:
 *
 *   u32 block length | entries... | the frame's own payload
 *   entry := u8 tag | u32 value length | value
 *
 * Entries are tag-length-value, so a receiver skips tags it does not know.
 */

import { RpcError } from "../common/errors.ts";
import { uint32Bytes } from "./frame.ts";

/** Per-call metadata: string keys, string or byte values. */
export type Metadata = Record<string, string | Uint8Array>;

/** The decoded contents of a block. */
export interface Extensions {
  /** Milliseconds the caller will wait, counted from when the frame was sent. */
  timeout?: number;
  /** Request metadata, or a reply's leading metadata. */
  metadata?: Metadata;
  /** A reply's trailing metadata, on its last frame. */
  trailers?: Metadata;
  /** The sender respects the receiver's flow-control window on this half of the stream. */
  flowControlled?: boolean;
  /** CRC-32 of the frame's own payload as sent (compressed, if it is), when negotiated. */
  checksum?: number;
}

export const Tag = {
  Timeout: 1,
  MetadataString: 2,
  MetadataBytes: 3,
  TrailerString: 4,
  TrailerBytes: 5,
  FlowControlled: 6,
  Checksum: 7,
} as const;

/** Default limit on a block's size, as gRPC's default limit on metadata (8 KiB). */
export const DEFAULT_MAX_METADATA_SIZE = 8 * 1024;

/** A block that cannot be read, or is over the receiver's limit: fails its call alone. */
export class ExtensionError extends Error {
  readonly tooLarge: boolean;
  constructor(message: string, tooLarge = false) {
    super(message);
    this.name = "ExtensionError";
    this.tooLarge = tooLarge;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const MAX_KEY_BYTES = 0xffff;

/** True when there is something to send. */
export function hasExtensions(ext: Extensions): boolean {
  return ext.timeout !== undefined || ext.flowControlled === true || ext.checksum !== undefined ||
    hasMetadata(ext.metadata) || hasMetadata(ext.trailers);
}

/** True when there is at least one entry. */
export function hasMetadata(metadata: Metadata | undefined): boolean {
  if (metadata === undefined) return false;
  for (const _ in metadata) return true;
  return false;
}

/** Throws `invalid_argument` unless every value is a string or bytes: checked before a call starts. */
export function checkMetadata(metadata: Metadata | undefined): void {
  if (metadata === undefined) return;
  if (typeof metadata !== "object" || metadata === null) {
    throw new RpcError("invalid_argument", `metadata must be an object of strings or Uint8Arrays, got ${typeof metadata}`);
  }
  for (const key in metadata) {
    const value = metadata[key];
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new RpcError("invalid_argument", `metadata value for "${key}" must be a string or a Uint8Array, got ${typeof value}`);
    }
  }
}

/** Encodes a block, its length prefix included: the bytes that go before the payload. */
export function encodeExtensions(ext: Extensions): Uint8Array {
  const parts: Array<[number, Uint8Array]> = [];
  if (ext.timeout !== undefined) parts.push([Tag.Timeout, uint32Bytes(Math.max(0, Math.min(0xffffffff, Math.ceil(ext.timeout))))]);
  if (ext.flowControlled === true) parts.push([Tag.FlowControlled, EMPTY]);
  if (ext.checksum !== undefined) parts.push([Tag.Checksum, uint32Bytes(ext.checksum)]);
  addMetadata(parts, ext.metadata, Tag.MetadataString, Tag.MetadataBytes);
  addMetadata(parts, ext.trailers, Tag.TrailerString, Tag.TrailerBytes);
  let size = 4;
  for (const [, value] of parts) size += 5 + value.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size - 4);
  let offset = 4;
  for (const [tag, value] of parts) {
    out[offset] = tag;
    view.setUint32(offset + 1, value.length);
    out.set(value, offset + 5);
    offset += 5 + value.length;
  }
  return out;
}

function addMetadata(parts: Array<[number, Uint8Array]>, metadata: Metadata | undefined, stringTag: number, bytesTag: number): void {
  if (metadata === undefined) return;
  for (const key in metadata) {
    const value = metadata[key];
    const keyBytes = encoder.encode(key);
    if (keyBytes.length > MAX_KEY_BYTES) throw new RpcError("invalid_argument", `metadata key of ${keyBytes.length} bytes is too long`);
    let valueBytes: Uint8Array;
    let tag: number;
    if (typeof value === "string") {
      valueBytes = encoder.encode(value);
      tag = stringTag;
    } else if (value instanceof Uint8Array) {
      valueBytes = value;
      tag = bytesTag;
    } else {
      throw new RpcError("invalid_argument", `metadata value for "${key}" must be a string or a Uint8Array, got ${typeof value}`);
    }
    const entry = new Uint8Array(2 + keyBytes.length + valueBytes.length);
    entry[0] = keyBytes.length >>> 8;
    entry[1] = keyBytes.length & 0xff;
    entry.set(keyBytes, 2);
    entry.set(valueBytes, 2 + keyBytes.length);
    parts.push([tag, entry]);
  }
}

/**
 * Splits a payload into its block and the rest. Throws ExtensionError when the block is
 * malformed or bigger than `limit` bytes. Values are copied out, so they outlive the chunk.
 */
export function decodeExtensions(payload: Uint8Array, limit: number): { ext: Extensions; body: Uint8Array } {
  if (payload.length < 4) throw new ExtensionError(`extension block cut short: ${payload.length} bytes`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const size = view.getUint32(0);
  if (size > limit) throw new ExtensionError(`extension block of ${size} bytes exceeds the limit of ${limit} bytes`, true);
  const end = 4 + size;
  if (end > payload.length) throw new ExtensionError(`extension block of ${size} bytes overruns its ${payload.length}-byte payload`);
  const ext: Extensions = {};
  let offset = 4;
  while (offset < end) {
    if (offset + 5 > end) throw new ExtensionError("extension entry cut short");
    const tag = payload[offset];
    const length = view.getUint32(offset + 1);
    const start = offset + 5;
    if (start + length > end) throw new ExtensionError(`extension entry (tag ${tag}) of ${length} bytes overruns the block`);
    const value = payload.subarray(start, start + length);
    switch (tag) {
      case Tag.Timeout:
        if (length !== 4) throw new ExtensionError("timeout entry must be 4 bytes");
        ext.timeout = view.getUint32(start);
        break;
      case Tag.FlowControlled:
        ext.flowControlled = true;
        break;
      case Tag.Checksum:
        if (length !== 4) throw new ExtensionError("checksum entry must be 4 bytes");
        ext.checksum = view.getUint32(start);
        break;
      case Tag.MetadataString:
      case Tag.MetadataBytes:
        readMetadataEntry((ext.metadata ??= {}), value, tag === Tag.MetadataBytes);
        break;
      case Tag.TrailerString:
      case Tag.TrailerBytes:
        readMetadataEntry((ext.trailers ??= {}), value, tag === Tag.TrailerBytes);
        break;
      default:
        break; // a tag from a newer weft: skipped
    }
    offset = start + length;
  }
  return { ext, body: payload.subarray(end) };
}

function readMetadataEntry(into: Metadata, entry: Uint8Array, bytes: boolean): void {
  if (entry.length < 2) throw new ExtensionError("metadata entry cut short");
  const keyLength = (entry[0] << 8) | entry[1];
  if (2 + keyLength > entry.length) throw new ExtensionError("metadata key overruns its entry");
  try {
    const key = decoder.decode(entry.subarray(2, 2 + keyLength));
    const value = entry.subarray(2 + keyLength);
    // defineProperty: a key named "__proto__" stays a plain entry.
    Object.defineProperty(into, key, {
      value: bytes ? value.slice() : decoder.decode(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } catch (error) {
    if (error instanceof ExtensionError) throw error;
    throw new ExtensionError("metadata entry is not valid UTF-8");
  }
}


const EMPTY = new Uint8Array(0);
