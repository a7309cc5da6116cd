/**
 * Whole-payload compression with the Web-standard CompressionStream / DecompressionStream
 * (Bun, Deno and Node 20+ all have them, with all three formats below).
 *
 * Integrity and end of stream, per format (what decompress() guarantees on every runtime):
 * - "gzip": the runtime checks the CRC-32 and length trailer, so corrupt or truncated input
 *   is rejected everywhere. Bun and Node also accept a second gzip member after the first
 *   (valid gzip, Deno rejects it); decompress() rejects it everywhere by checking that the
 *   trailer's length is the whole output's length.
 * - "deflate" (zlib): Adler-32 trailer. Deno 2.9 accepts a truncated stream (it returns
 *   what it decoded so far) and Node 20 ignores bytes after the end; decompress() checks
 *   the Adler-32 of the output against the input's last 4 bytes, which rejects both on
 *   every runtime.
 * - "deflate-raw": no trailer, so no checksum: a corrupted byte can decode to wrong bytes
 *   without any error on any runtime. On Deno 2.9 a truncated stream decodes to a prefix
 *   without an error, and Node 20 ignores bytes after the end; Bun rejects both. Pair it
 *   with a CRC-32 of the payload (src/wire/crc32.ts) when integrity matters, or use "deflate".
 * Empty input is rejected for every format (no valid stream is empty; Deno would return
 * zero bytes for "deflate" and "deflate-raw").
 */
import { RpcError } from "../common/errors.ts";

export type CompressionFormat = "gzip" | "deflate" | "deflate-raw";

const FORMATS: readonly string[] = ["gzip", "deflate", "deflate-raw"];

export type DecompressionFailure = "corrupt" | "too_large";

/**
 * decompress() failed: the input is not a valid stream of that format (reason "corrupt",
 * code "data_loss"; truncated input and trailing bytes included), or its output would
 * exceed the limit (reason "too_large", code "resource_exhausted").
 */
export class DecompressionError extends RpcError {
  override name = "DecompressionError";
  readonly reason: DecompressionFailure;
  readonly format: CompressionFormat;

  constructor(reason: DecompressionFailure, format: CompressionFormat, message: string, cause?: unknown) {
    super(reason === "corrupt" ? "data_loss" : "resource_exhausted", message, { cause });
    this.reason = reason;
    this.format = format;
  }
}

const noop = (): void => {};

function checkFormat(format: CompressionFormat): void {
  if (!FORMATS.includes(format)) throw new TypeError(`unsupported compression format: ${String(format)}`);
}

/** A plain Uint8Array over the same bytes (Node and Bun hand out Buffers). */
function plain(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * The bytes as a view the streams accept: they take no SharedArrayBuffer views, so those
 * (rare) are copied.
 */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

/** The chunks as one array: the only chunk itself, else a single copy into an exact-size buffer. */
function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return plain(chunks[0]);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Compresses `payload` into one complete stream of `format`. */
export async function compress(payload: Uint8Array, format: CompressionFormat): Promise<Uint8Array> {
  checkFormat(format);
  const stream = new CompressionStream(format);
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // Not awaited: the transform only runs as the readable side is read. Any failure
  // errors the readable side too, and surfaces from read() below.
  if (payload.length > 0) writer.write(bufferSource(payload)).catch(noop);
  writer.close().catch(noop);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value.length === 0) continue;
    chunks.push(value);
    total += value.length;
  }
  return concat(chunks, total);
}

/**
 * Compressed input is written in slices, because Deno inflates each written chunk whole
 * before the output can be counted (Bun and Node stop inflating when their output buffer
 * is full): one slice of s bytes inflates to at most ~1032 x s (deflate's maximum ratio).
 * s = maxBytes / 1024, at least 16 KiB (fewer writes: each costs a thread-pool round trip
 * on Node) and at most 1 MiB. So at most about 2 x maxBytes + 16.5 MiB is ever inflated.
 */
function sliceSize(maxBytes: number): number {
  return Math.min(1024 * 1024, Math.max(16 * 1024, Math.floor(maxBytes / 1024)));
}

/**
 * Decompresses one complete stream of `format`. Rejects with a DecompressionError when the
 * input is corrupt, truncated, empty or followed by other bytes (see the top of this file
 * for what each format can detect), or as soon as the output exceeds `maxBytes`: the
 * stream is then cancelled, so a decompression bomb is never inflated whole (see
 * sliceSize for the bound).
 */
export async function decompress(payload: Uint8Array, format: CompressionFormat, maxBytes: number): Promise<Uint8Array> {
  checkFormat(format);
  if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be a number >= 0, got ${maxBytes}`);
  if (payload.length === 0) throw corrupt(format, "empty input");
  const stream = new DecompressionStream(format);
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // The writer runs alongside the reads below. Its failures (corrupt input, the cancel
  // below) are swallowed here: the same failure reaches read(), which reports it.
  const input = bufferSource(payload);
  const writing = (async () => {
    const step = sliceSize(maxBytes);
    for (let offset = 0; offset < input.length; offset += step) {
      await writer.write(input.subarray(offset, offset + step));
    }
    await writer.close();
  })().catch(noop);

  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        reader.cancel().catch(noop);
        throw new DecompressionError("too_large", format, `decompressed payload exceeds ${maxBytes} bytes`);
      }
      if (value.length > 0) chunks.push(value);
    }
  } catch (error) {
    if (error instanceof DecompressionError) throw error;
    throw corrupt(format, error instanceof Error ? error.message : String(error), error);
  }
  await writing;
  const out = concat(chunks, total);
  checkTrailer(payload, format, out);
  return out;
}

function corrupt(format: CompressionFormat, detail: string, cause?: unknown): DecompressionError {
  return new DecompressionError("corrupt", format, `compressed payload is corrupt (${format}): ${detail}`, cause);
}

/** The checks the runtimes do not all do (see the top of this file). */
function checkTrailer(payload: Uint8Array, format: CompressionFormat, out: Uint8Array): void {
  const n = payload.length;
  if (format === "gzip") {
    // ISIZE: the member's length mod 2^32, little-endian. The runtime checked it against
    // the last member; equal to the whole output, there was only one member.
    const size = (payload[n - 4] | (payload[n - 3] << 8) | (payload[n - 2] << 16) | (payload[n - 1] << 24)) >>> 0;
    if (size !== out.length % 0x1_0000_0000) throw corrupt(format, "trailing data after the gzip member");
  } else if (format === "deflate") {
    const want = n < 4 ? -1 : ((payload[n - 4] << 24) | (payload[n - 3] << 16) | (payload[n - 2] << 8) | payload[n - 1]) >>> 0;
    if (adler32(out) !== want) throw corrupt(format, "truncated, or trailing data after the stream (Adler-32 mismatch)");
  }
}

/** Adler-32 (RFC 1950), the zlib trailer. */
function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    // zlib's NMAX: at most 5552 bytes between two reductions keeps both sums below 2^32.
    const end = Math.min(i + 5552, n);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
