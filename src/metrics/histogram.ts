/**
 * A duration histogram with fixed buckets: recording is a short scan of a small array and
 * two adds, no allocation. Percentiles are read back from the buckets (interpolated within
 * the one the rank falls in), as Prometheus's histogram_quantile does.
 */

/** Upper bounds in milliseconds, ascending; one more bucket, unbounded, follows the last. */
export const DURATION_BUCKETS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export class Histogram {
  readonly bounds: readonly number[];
  /** Per bucket (not cumulative); the last is the unbounded one. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[] = DURATION_BUCKETS_MS) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /**
   * The value under which a fraction `q` (0..1) of observations fall, estimated from the
   * buckets; undefined with none. Past the last bound it answers the last bound.
   */
  percentile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i];
      if (inBucket > 0 && seen + inBucket >= rank) {
        if (i === this.bounds.length) return this.bounds[i - 1];
        const lower = i === 0 ? 0 : this.bounds[i - 1];
        return lower + (this.bounds[i] - lower) * ((rank - seen) / inBucket);
      }
      seen += inBucket;
    }
    return this.bounds[this.bounds.length - 1];
  }
}
