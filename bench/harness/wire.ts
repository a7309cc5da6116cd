/**
 * What the benches' clients and servers agree on: the cmds the weft server answers, the
 * 32-byte payload every small call carries, the 48-byte qrpc frame the raw echo client
 * sends, and the stream flags the raw stream server and client use. Headers are written
 * with weft's own writer, so the raw references put exactly weft's bytes on the wire.
 */

/** cmd the weft server echoes on. */
export const ECHO_CMD = 1;
/** cmd the weft server streams on: the request payload is a u32 count, each reply frame one 32-byte payload. */
export const STREAM_CMD = 3;

export const PAYLOAD_SIZE = 32;
export const HEADER_SIZE = 16;
export const FRAME_SIZE = HEADER_SIZE + PAYLOAD_SIZE; // 48
export const LENGTH_FIELD = FRAME_SIZE - 4; // 44

/** qrpc flags of a stream's frames, and the reset code a client sends when it stops one. */
export const FLAG_STREAM = 0x01;
export const FLAG_END = 0x02;
export const FLAG_RST = 0x04;
export const RESET_CANCELLED = 1;

/** qrpc's 16-byte header writer: weft's own, so the raw benches encode exactly what weft does. */
export { writeHeader } from "../../src/wire/frame.ts";

/** The 32-byte payload every call carries. */
export function makePayload(): Uint8Array {
  const payload = new Uint8Array(PAYLOAD_SIZE);
  for (let i = 0; i < PAYLOAD_SIZE; i++) payload[i] = (i * 7 + 1) & 0xff;
  return payload;
}

const PAYLOAD = makePayload();

/** Writes one 48-byte qrpc frame (length 44, id `id` < 2^32, flags 0, cmd 1) at `offset`. */
export function writeBenchFrame(target: Uint8Array, offset: number, id: number): void {
  target[offset] = 0;
  target[offset + 1] = 0;
  target[offset + 2] = 0;
  target[offset + 3] = LENGTH_FIELD;
  target[offset + 4] = 0;
  target[offset + 5] = 0;
  target[offset + 6] = 0;
  target[offset + 7] = 0;
  target[offset + 8] = id >>> 24;
  target[offset + 9] = id >>> 16;
  target[offset + 10] = id >>> 8;
  target[offset + 11] = id;
  target[offset + 12] = 0;
  target[offset + 13] = 0;
  target[offset + 14] = 0;
  target[offset + 15] = ECHO_CMD;
  target.set(PAYLOAD, offset + HEADER_SIZE);
}

/** A 4-byte big-endian u32. */
export function u32(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  bytes[0] = n >>> 24;
  bytes[1] = n >>> 16;
  bytes[2] = n >>> 8;
  bytes[3] = n;
  return bytes;
}

/** The big-endian u32 at `offset` (0 when the bytes are not there). */
export function readU32(bytes: Uint8Array, offset = 0): number {
  if (bytes.length < offset + 4) return 0;
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}
