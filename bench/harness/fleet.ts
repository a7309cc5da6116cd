/**
 * Many clients as one row: N connections with one call in flight each, as a server sees a
 * crowd of ping-pong clients rather than one busy connection. Nothing batches here: every
 * call is a read and a write on each side, so the row measures what a call costs a
 * connection on its own (the `-conns` rows of unary.ts).
 */
import { BUCKETS_PER_MS, type Histogram } from "./histogram.ts";
import { type Client, Tally } from "./tally.ts";

export class Fleet implements Client {
  readonly tally: Tally;
  readonly #members: Client[];

  /** `members` measure into tallies of their own (no server pid); the fleet meters the CPU once. */
  constructor(members: Client[], serverPid: number | undefined) {
    this.#members = members;
    for (const member of members) member.tally.cpu.disable();
    this.tally = new Tally(serverPid);
  }

  /** Runs every member for `ms` at once; the slice ends when the last is done. */
  async run(ms: number): Promise<void> {
    const tally = this.tally;
    tally.cpu.start();
    const start = performance.now();
    await Promise.all(this.#members.map((member) => member.run(ms)));
    tally.cpu.stop();
    let slowest = 0;
    for (const member of this.#members) {
      const own = member.tally;
      tally.ops += own.ops;
      slowest = Math.max(slowest, own.seconds);
      merge(tally.hist, own.hist);
      own.reset();
    }
    // The members ran side by side: the slice took as long as its longest member.
    tally.seconds += Math.min(slowest, (performance.now() - start) / 1000);
  }

  reset(): void {
    this.tally.reset();
    for (const member of this.#members) member.reset();
  }

  async close(): Promise<void> {
    await Promise.all(this.#members.map((member) => member.close()));
  }
}

/** Adds `from`'s samples to `into` (its buckets up to its slowest sample's). */
function merge(into: Histogram, from: Histogram): void {
  if (from.count === 0) return;
  const counts = into.counts;
  const more = from.counts;
  const last = Math.min(counts.length - 1, Math.ceil(from.max * BUCKETS_PER_MS));
  for (let i = 0; i <= last; i++) if (more[i] !== 0) counts[i] += more[i];
  into.count += from.count;
  into.sum += from.sum;
  if (from.max > into.max) into.max = from.max;
}

/** Opens `count` members with `open` (a few at a time, so a server's accept queue is not flooded). */
export async function openFleet(
  count: number,
  open: () => Promise<Client>,
  serverPid: number | undefined,
): Promise<Fleet> {
  const members: Client[] = [];
  for (let i = 0; i < count; i += 8) {
    members.push(...await Promise.all(Array.from({ length: Math.min(8, count - i) }, open)));
  }
  return new Fleet(members, serverPid);
}
