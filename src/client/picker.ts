/**
 * Which endpoint a call goes to. geerpc's three (round-robin, random, consistent hash on a
 * key the call gives) and power-of-two-choices on calls in flight ("least-loaded"). Each
 * picks among the subchannels that are ready and whose breaker admits a call; consistent
 * hashing keeps a key on its endpoint while that endpoint is up, and moves only its keys
 * when it is not.
 */
import { HashRing } from "./hash_ring.ts";
import type { Subchannel } from "./subchannel.ts";

export type BalancePolicy = "round-robin" | "random" | "consistent-hash" | "least-loaded";

export const BALANCE_POLICIES: readonly BalancePolicy[] = ["round-robin", "random", "consistent-hash", "least-loaded"];

export class Picker {
  readonly policy: BalancePolicy;
  readonly #random: () => number;
  #all: readonly Subchannel[] = [];
  #next = 0;
  readonly #ring: HashRing<Subchannel> | null;

  constructor(policy: BalancePolicy, random: () => number = Math.random) {
    if (!BALANCE_POLICIES.includes(policy)) {
      throw new TypeError(`balance must be one of ${BALANCE_POLICIES.join(", ")}, got ${String(policy)}`);
    }
    this.policy = policy;
    this.#random = random;
    this.#ring = policy === "consistent-hash" ? new HashRing() : null;
  }

  /** The channel's endpoints changed. */
  setSubchannels(all: readonly Subchannel[]): void {
    this.#all = all;
    this.#ring?.set(all, (s) => s.endpoint.url);
  }

  /** A usable subchannel for a call (with `key` for consistent hashing), or null. */
  pick(key: string | undefined): Subchannel | null {
    const all = this.#all;
    switch (this.policy) {
      case "consistent-hash":
        if (key !== undefined) return this.#ring!.pick(key, usable) ?? null;
        return this.#roundRobin(all);
      case "random":
        return this.#random1(all);
      case "least-loaded":
        return this.#twoChoices(all);
      default:
        return this.#roundRobin(all);
    }
  }

  #roundRobin(all: readonly Subchannel[]): Subchannel | null {
    const n = all.length;
    for (let i = 0; i < n; i++) {
      const candidate = all[(this.#next + i) % n];
      if (candidate.usable) {
        this.#next = (this.#next + i + 1) % n;
        return candidate;
      }
    }
    return null;
  }

  #random1(all: readonly Subchannel[]): Subchannel | null {
    const ready = all.filter(usable);
    return ready.length === 0 ? null : ready[Math.floor(this.#random() * ready.length)];
  }

  /** Two at random, the one with fewer calls in flight (the other on a tie). */
  #twoChoices(all: readonly Subchannel[]): Subchannel | null {
    const ready = all.filter(usable);
    if (ready.length <= 1) return ready[0] ?? null;
    const a = Math.floor(this.#random() * ready.length);
    let b = Math.floor(this.#random() * (ready.length - 1));
    if (b >= a) b++;
    return ready[a].inFlight <= ready[b].inFlight ? ready[a] : ready[b];
  }
}

const usable = (s: Subchannel) => s.usable;
