/**
 * The qrpc frame header: 16 bytes, all integers big-endian.
 *
 *   0-3   uint32 length = 12 + payload length (everything after this field)
 *   4-11  uint64 request id (also the stream id)
 *   12    uint8  flags
 *   13-15 uint24 cmd
 *   16..  payload
 */

export const HEADER_SIZE = 16;
/** The smallest valid value of the length field: a frame with an empty payload. */
export const MIN_LENGTH = 12;
/** Default limit on the length field (header bytes after it included), as qrpc's server. */
export const DEFAULT_MAX_FRAME_SIZE: number = 10 * 1024 * 1024;
/** Largest cmd: 24 bits. Only the low 16 bits route a request. */
export const MAX_CMD = 0xffffff;

/**
 * A request id. Ids up to 2^53 are plain numbers (the fast path; weft never numbers
 * its own requests past that). Larger ids from a peer arrive as bigint and are echoed
 * back exactly.
 */
export type RequestId = number | bigint;

/** A decoded frame. `payload` may be a view into the chunk it arrived in. */
export interface Frame {
  id: RequestId;
  flags: number;
  cmd: number;
  payload: Uint8Array;
}

const TWO_POW_32 = 4294967296;
/** Ids whose high word is below this fit in a double exactly (2^53). */
const SAFE_HIGH_WORD = 0x200000;

/** Reads the 32-bit big-endian integer at `offset`. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) |
      bytes[offset + 3]) >>> 0
  );
}

/** A 32-bit big-endian integer as 4 bytes (extension entries, WINDOW_UPDATE). */
export function uint32Bytes(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, value >>> 16, value >>> 8, value]);
}

/** Reads the 64-bit big-endian request id at `offset`. */
export function readRequestId(bytes: Uint8Array, offset: number): RequestId {
  const high = readUint32(bytes, offset);
  const low = readUint32(bytes, offset + 4);
  if (high === 0) return low;
  if (high < SAFE_HIGH_WORD) return high * TWO_POW_32 + low;
  return (BigInt(high) << 32n) | BigInt(low);
}

/** True when the id is odd: ids a client numbers its requests with. */
export function isOddId(id: RequestId): boolean {
  return typeof id === "number" ? id % 2 === 1 : (id & 1n) === 1n;
}

/**
 * Writes a 16-byte header at `offset` of `target`. The caller guarantees room.
 * Byte-by-byte stores: faster than a DataView per frame on all three engines.
 */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  id: RequestId,
  flags: number,
  cmd: number,
  payloadLength: number,
): void {
  const length = MIN_LENGTH + payloadLength;
  target[offset] = length >>> 24;
  target[offset + 1] = length >>> 16;
  target[offset + 2] = length >>> 8;
  target[offset + 3] = length;
  let high: number;
  let low: number;
  if (typeof id === "number") {
    high = Math.floor(id / TWO_POW_32);
    low = id >>> 0;
  } else {
    high = Number((id >> 32n) & 0xffffffffn);
    low = Number(id & 0xffffffffn);
  }
  target[offset + 4] = high >>> 24;
  target[offset + 5] = high >>> 16;
  target[offset + 6] = high >>> 8;
  target[offset + 7] = high;
  target[offset + 8] = low >>> 24;
  target[offset + 9] = low >>> 16;
  target[offset + 10] = low >>> 8;
  target[offset + 11] = low;
  target[offset + 12] = flags;
  target[offset + 13] = cmd >>> 16;
  target[offset + 14] = cmd >>> 8;
  target[offset + 15] = cmd;
}

/** Encodes one whole frame into a new buffer. For tests, tools and cold paths. */
export function encodeFrame(frame: Frame): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE + frame.payload.length);
  writeHeader(bytes, 0, frame.id, frame.flags, frame.cmd, frame.payload.length);
  bytes.set(frame.payload, HEADER_SIZE);
  return bytes;
}
