/**
 * Rounds: a socket bench's plan (its rows, in groups) measured BENCH_ROUNDS times, each
 * group's rows together (interleave.ts), and each row reported as its medians over the
 * rounds (medians.ts). With one round, a row is that round's figures.
 */
import { measureGroup, type Runner } from "./interleave.ts";
import { log } from "./output.ts";
import { medianRow } from "./medians.ts";
import type { Settings } from "./settings.ts";

/** One row of a plan. */
export interface PlanRow<R> {
  /** Its name, unique in the plan (what BENCH_ONLY names), e.g. "raw:64" or "weft-stream:4". */
  key: string;
  /** Rows with the same group are measured together, e.g. every row at 64 in flight. */
  group: string;
  /** Opens its client, on a connection of its own. */
  open(): Promise<Runner<R>>;
}

/**
 * Measures the plan ROUNDS times; returns one row per plan row, in plan order: medians over
 * rounds, with each round's `rate` listed after the field `after` (see medianRow).
 */
export async function measureRounds<R extends object>(
  plan: PlanRow<R>[],
  settings: Settings,
  rate: keyof R,
  after: keyof R,
): Promise<Array<R & { rounds?: number[] }>> {
  const samples = new Map<string, R[]>(plan.map((p) => [p.key, []]));
  const groups = [...new Set(plan.map((p) => p.group))];
  for (let round = 1; round <= settings.rounds; round++) {
    if (settings.rounds > 1) log(`  round ${round}/${settings.rounds}`);
    for (const group of groups) {
      const members = plan.filter((p) => p.group === group);
      const rows = await measureGroup(members.map((p) => p.open), settings);
      rows.forEach((row, i) => samples.get(members[i].key)!.push(row));
    }
  }
  return [...samples.values()].map((rounds) => medianRow(rounds, rate, after));
}
