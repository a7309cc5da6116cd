/**
 * Consistent hashing: each endpoint owns `replicas` points on a 32-bit ring, and a key goes
 * to the owner of the first point at or after the key's hash. When an endpoint leaves, only
 * the keys it owned move (to the next points); the others keep their endpoint. geerpc's
 * consistent-hash selection, with virtual nodes so the load spreads evenly.
 */

/** FNV-1a, 32 bits, over the UTF-16 code units of `text` (fast, and stable across runtimes). */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final avalanche, so keys that differ in their last character land far apart.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}

export class HashRing<T> {
  readonly #replicas: number;
  #points: number[] = [];
  #owners: T[] = [];

  constructor(replicas = 160) {
    if (!(Number.isInteger(replicas) && replicas > 0)) throw new TypeError(`replicas must be a positive integer, got ${replicas}`);
    this.#replicas = replicas;
  }

  /** Rebuilds the ring for these members, each named by `keyOf` (its endpoint URL). */
  set(members: readonly T[], keyOf: (member: T) => string): void {
    const points: [number, T][] = [];
    for (const member of members) {
      const key = keyOf(member);
      for (let i = 0; i < this.#replicas; i++) points.push([fnv1a(`${key}#${i}`), member]);
    }
    points.sort((a, b) => a[0] - b[0]);
    this.#points = points.map((p) => p[0]);
    this.#owners = points.map((p) => p[1]);
  }

  get size(): number {
    return this.#points.length / this.#replicas;
  }

  /**
   * The owner of `key`, or, when `accept` refuses it (down, open breaker), the next distinct
   * member round the ring that it accepts: a key moves only while its owner is away.
   */
  pick(key: string, accept: (member: T) => boolean = () => true): T | undefined {
    const points = this.#points;
    if (points.length === 0) return undefined;
    const hash = fnv1a(key);
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (points[mid] < hash) low = mid + 1;
      else high = mid;
    }
    for (let step = 0; step < points.length; step++) {
      const owner = this.#owners[(low + step) % points.length];
      if (accept(owner)) return owner;
    }
    return undefined;
  }
}
