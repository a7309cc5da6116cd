/**
 * CRC-32 (IEEE 802.3; the one in gzip, zip, PNG and Go's hash/crc32.ChecksumIEEE):
 * reflected polynomial 0xEDB88320, initial value 0xFFFFFFFF, final xor 0xFFFFFFFF.
 *
 * Slice-by-16: sixteen 256-entry tables (16 KiB, built on first use) let the loop fold 16
 * input bytes per step with independent lookups, where the textbook loop does one
 * dependent lookup per byte. bench/crc32.ts measures it at 2.5-5x that loop on Bun, Deno
 * and Node, and 10-40% ahead of slice-by-8. Input words are assembled from single bytes,
 * so any view (unaligned subarray, either platform endianness) takes the same path.
 */

/** tables[k * 256 + b]: the CRC register after byte b followed by k zero bytes. */
let tables: Int32Array | undefined;

function buildTables(): Int32Array {
  const t = new Int32Array(16 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b];
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  tables = t;
  return t;
}

/**
 * The CRC-32 of `bytes`, as an unsigned 32-bit number. To continue over several pieces,
 * pass the previous result as `seed`: crc32(b, crc32(a)) === crc32(a followed by b).
 * The default seed 0 is the CRC of nothing.
 */
export function crc32(bytes: Uint8Array, seed = 0): number {
  const t = tables ?? buildTables();
  let c = ~seed;
  const n = bytes.length;
  const end = n - (n & 15);
  let i = 0;
  for (; i < end; i += 16) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t[3840 + (c & 0xff)] ^ t[3584 + ((c >>> 8) & 0xff)] ^ t[3328 + ((c >>> 16) & 0xff)] ^ t[3072 + (c >>> 24)] ^
      t[2816 + bytes[i + 4]] ^ t[2560 + bytes[i + 5]] ^ t[2304 + bytes[i + 6]] ^ t[2048 + bytes[i + 7]] ^
      t[1792 + bytes[i + 8]] ^ t[1536 + bytes[i + 9]] ^ t[1280 + bytes[i + 10]] ^ t[1024 + bytes[i + 11]] ^
      t[768 + bytes[i + 12]] ^ t[512 + bytes[i + 13]] ^ t[256 + bytes[i + 14]] ^ t[bytes[i + 15]];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
