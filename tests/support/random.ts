/**
 * A seeded generator for property tests (mulberry32): the same seed gives the same cases on
 * every runtime. `WEFT_SEED` picks the seed; a failing property names the seed and case.
 */
export class Random {
  #state: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, below). */
  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A string of `length` code points, some outside ASCII. */
  text(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) {
      out += this.chance(0.8) ? String.fromCharCode(32 + this.int(95)) : this.pick(["é", "ß", "中", "😀", "\u0000", "\n"]);
    }
    return out;
  }
}

/** The suite's seed: WEFT_SEED, or a fixed one so a run is repeatable by default. */
export function suiteSeed(): number {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.WEFT_SEED;
  return env === undefined ? 20261206 : Number(env);
}

/** Runs `property` on `cases` cases; a failure names the seed and the case to repeat it. */
export function forAll(cases: number, property: (random: Random, index: number) => void, seed = suiteSeed()): void {
  const random = new Random(seed);
  for (let index = 0; index < cases; index++) {
    try {
      property(random, index);
    } catch (error) {
      const where = `property failed at case ${index} (WEFT_SEED=${seed})`;
      throw error instanceof Error ? Object.assign(error, { message: `${where}: ${error.message}` }) : new Error(`${where}: ${error}`);
    }
  }
}
