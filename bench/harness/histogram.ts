/**
 * A latency histogram with percentiles: fixed 0.1 µs buckets over 0..50 ms, so recording a
 * sample is one multiply, one compare and one increment, with no allocation and bounded
 * memory (2 MB) however long the run. The benches time every call with it.
 */

/** Bucket width: 0.1 us. */
export const BUCKETS_PER_MS = 10_000;
/** Range: 0..50 ms; slower samples land in the last bucket (max is still exact). */
const BUCKETS = 50 * BUCKETS_PER_MS;

export class Histogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** Records `n` samples of `ms` milliseconds each. */
  add(ms: number, n = 1): void {
    let i = (ms * BUCKETS_PER_MS) | 0;
    if (i >= BUCKETS) i = BUCKETS - 1;
    else if (i < 0) i = 0;
    this.counts[i] += n;
    this.count += n;
    this.sum += ms * n;
    if (ms > this.max) this.max = ms;
  }

  /** The q-quantile (0..1) in microseconds, at the bucket's midpoint. */
  quantileUs(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    const counts = this.counts;
    for (let i = 0; i < BUCKETS; i++) {
      seen += counts[i];
      if (seen >= rank) return i === BUCKETS - 1 ? this.max * 1000 : ((i + 0.5) * 1000) / BUCKETS_PER_MS;
    }
    return this.max * 1000;
  }

  meanUs(): number {
    return this.count === 0 ? NaN : (this.sum / this.count) * 1000;
  }
}
