/**
 * Medians: of a row's slices (crc32), of single calls (compression), and of a row over
 * BENCH_ROUNDS rounds (every other bench). The median keeps one disturbed round or slice
 * out of the figure, which on a shared machine a mean would not.
 */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * One row from its rounds: every number is the median over rounds, a field that is null in
 * any round stays null, anything else (names) comes from the first round. `rounds` lists
 * each round's `rate` (rounded) so the spread stays visible; it goes right after the field
 * `after` (so the JSON keeps its key order), else last. One round: that row as it is.
 */
export function medianRow<R extends object>(
  rounds: R[],
  rate: keyof R,
  after?: keyof R,
): R & { rounds?: number[] } {
  if (rounds.length === 1) return rounds[0];
  const row: Record<string, unknown> = {};
  const spread = () => (row.rounds = rounds.map((r) => Math.round(r[rate] as number)));
  for (const key of Object.keys(rounds[0]) as Array<keyof R & string>) {
    const values = rounds.map((r) => r[key]);
    if (values.some((v) => v === null)) row[key] = null;
    else if (typeof values[0] === "number") row[key] = median(values as number[]);
    else row[key] = values[0];
    if (key === after) spread();
  }
  if (!("rounds" in row)) spread();
  return row as R & { rounds?: number[] };
}
