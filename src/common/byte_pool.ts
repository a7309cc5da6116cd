/**
 * Small byte buffers carved out of a shared slab.
 *
 * V8 (Node, Deno) gives a typed array over 64 bytes its own off-heap backing store, and
 * that costs 0.4-0.7 us: more than JSON-encoding a small object. A typed call allocates a
 * few such payloads, so short-lived small buffers come from a 16 KiB slab instead, as
 * Node's Buffer pool does. A slab is never reused: when it is full a new one replaces it,
 * and the old one is freed once no view into it is left (a kept view keeps its slab alive,
 * which is why only buffers up to POOLED_MAX come from here).
 */

const SLAB_SIZE = 16 * 1024;
/** Larger buffers get their own allocation: the fixed cost no longer dominates. */
export const POOLED_MAX = 2048;

let slab = new Uint8Array(SLAB_SIZE);
let used = 0;

/** Makes room for up to `size` bytes (<= POOLED_MAX) and returns the slab and the offset to write at. */
function reserve(size: number): number {
  if (SLAB_SIZE - used < size) {
    slab = new Uint8Array(SLAB_SIZE);
    used = 0;
  }
  return used;
}

/** A zero-filled buffer of `size` bytes. */
export function pooledBytes(size: number): Uint8Array {
  if (size > POOLED_MAX) return new Uint8Array(size);
  const at = reserve(size);
  used = at + size;
  return slab.subarray(at, used);
}

const encoder = new TextEncoder();

/** `text` in UTF-8, after `prefix` when one is given. */
export function pooledText(text: string, prefix?: Uint8Array): Uint8Array {
  const before = prefix?.length ?? 0;
  const most = before + text.length * 3; // UTF-8 needs at most 3 bytes per UTF-16 unit
  if (most > POOLED_MAX) {
    const body = encoder.encode(text);
    if (before === 0) return body;
    const out = new Uint8Array(before + body.length);
    out.set(prefix!, 0);
    out.set(body, before);
    return out;
  }
  const at = reserve(most);
  const buffer = slab;
  for (let i = 0; i < before; i++) buffer[at + i] = prefix![i];
  // ASCII (most JSON) is copied by hand: encodeInto would need a view to write into.
  const start = at + before;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) {
      const { written } = encoder.encodeInto(text, buffer.subarray(start));
      used = start + written;
      return buffer.subarray(at, used);
    }
    buffer[start + i] = code;
  }
  used = start + length;
  return buffer.subarray(at, used);
}

/** `a` followed by `b`, in one buffer. */
export function pooledConcat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = pooledBytes(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
