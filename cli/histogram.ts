/**
 * Call latencies for `weft bench`: log-spaced buckets (about 2% wide, 1 µs to over an
 * hour), so a sample costs a log and an increment whatever the server's speed; percentiles
 * and a small text histogram from them.
 */

/** Buckets per doubling: 2^(1/32) ≈ 2.2% wide. */
const PER_DOUBLING = 32;
/** The smallest sample kept apart: 1 µs. */
const FLOOR_MS = 0.001;
const BUCKETS = PER_DOUBLING * 32;

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;
  min = Infinity;
  sum = 0;

  /** Records one sample, in milliseconds. */
  add(ms: number): void {
    this.#counts[bucketOf(ms)]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
  }

  /** The q-quantile (0..1) in milliseconds: its bucket's upper bound, never above the max. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(upperOf(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /**
   * `rows` bars between min and max, spaced evenly on a log scale: each row's upper bound,
   * its count, and a bar of `#` scaled to the fullest row.
   */
  bars(rows = 10, width = 40): string[] {
    if (this.count === 0) return [];
    const low = Math.max(this.min, FLOOR_MS);
    const high = Math.max(this.max, low * 1.0001);
    const step = Math.log(high / low) / rows;
    const totals = new Array<number>(rows).fill(0);
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.#counts[i];
      if (n === 0) continue;
      const middle = Math.min(Math.max(Math.sqrt(lowerOf(i) * upperOf(i)), low), high);
      totals[Math.min(rows - 1, Math.floor(Math.log(middle / low) / step))] += n;
    }
    const fullest = Math.max(...totals);
    return totals.map((n, row) => {
      const bound = low * Math.exp(step * (row + 1));
      const bar = "#".repeat(n === 0 ? 0 : Math.max(1, Math.round((n / fullest) * width)));
      return `${formatMs(bound).padStart(10)} | ${String(n).padStart(8)} ${bar}`;
    });
  }
}

function bucketOf(ms: number): number {
  if (!(ms > FLOOR_MS)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log2(ms / FLOOR_MS) * PER_DOUBLING));
}

function upperOf(bucket: number): number {
  return FLOOR_MS * 2 ** (bucket / PER_DOUBLING);
}

function lowerOf(bucket: number): number {
  return bucket === 0 ? 0 : upperOf(bucket - 1);
}

/** A duration for people: µs under 1 ms, ms under 10 s, else s. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 10_000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}
