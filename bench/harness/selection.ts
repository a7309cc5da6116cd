/**
 * Which rows run: a bench's plan, each row named `mode:count` or `mode-part:count`, cut
 * down to the rows BENCH_ONLY names (for profiling one row, or a quick check). A row listed
 * twice (BENCH_STREAMS=1 makes two of stream's rows the same) is kept once.
 */
import { ONLY } from "./settings.ts";

/**
 * The plan's entries without repeats, and without those BENCH_ONLY does not name (`alias`
 * rewrites a BENCH_ONLY name first, e.g. "raw:64" to "raw:128" when BENCH_INFLIGHT=128).
 * Throws if nothing is left; `hint` says what the names look like.
 */
export function selectRows<T extends { key: string }>(plan: T[], hint: string, alias = (name: string) => name): T[] {
  const unique = plan.filter((entry, i) => plan.findIndex((e) => e.key === entry.key) === i);
  if (ONLY.length === 0) return unique;
  const wanted = new Set(ONLY.map(alias));
  const kept = unique.filter((entry) => wanted.has(entry.key));
  if (kept.length === 0) throw new Error(`BENCH_ONLY=${ONLY.join(",")} matches no row (${hint})`);
  return kept;
}
