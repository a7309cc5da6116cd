/**
 * The client's pure policies (src/client/), with no sockets and no timers: every clock and
 * every random number is passed in, so each assertion is exact.
 */
import { describe, expect, test } from "bun:test";
import { backoffDelay, backoffOptions, DEFAULT_BACKOFF } from "../src/client/backoff.ts";
import { CircuitBreaker, type CircuitBreakerOptions } from "../src/client/circuit_breaker.ts";
import { parseEndpoint } from "../src/client/endpoint.ts";
import { fnv1a, HashRing } from "../src/client/hash_ring.ts";
import { BALANCE_POLICIES, type BalancePolicy, Picker } from "../src/client/picker.ts";
import { NO_RETRY, resolveRetry, retryDelay } from "../src/client/retry.ts";
import { RetryBudget } from "../src/client/retry_budget.ts";
import type { Subchannel } from "../src/client/subchannel.ts";
import { RpcError } from "../src/common/errors.ts";

/** Park-Miller: a seeded generator in (0, 1), so "random" inputs are the same on every run. */
const seeded = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const KEYS = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);

describe("backoff", () => {
  const defaults = backoffOptions();
  const base = (attempt: number) => Math.min(120_000, 1000 * 1.6 ** attempt);
  const delays = (attempt: number, randoms: number[]) => randoms.map((r) => backoffDelay(defaults, attempt, r));

  test("the defaults are gRPC's: with random 0.5, 1000, 1600, 2560, ... capped at 120000, never shrinking", () => {
    expect(defaults).toEqual({ initialDelay: 1000, multiplier: 1.6, maxDelay: 120_000, jitter: 0.2 });
    expect(backoffOptions({ initialDelay: 10 })).toEqual({ ...DEFAULT_BACKOFF, initialDelay: 10 });
    expect([0, 1, 11, 5000].map((a) => backoffDelay(defaults, a, 0.5))).toEqual([1000, 1600, 120_000, 120_000]);
    for (let attempt = 0; attempt <= 40; attempt++) {
      expect(backoffDelay(defaults, attempt, 0.5)).toBeCloseTo(base(attempt), 6); // 2560, 4096, ...
      if (attempt > 0) expect(backoffDelay(defaults, attempt, 0.3)).toBeGreaterThanOrEqual(backoffDelay(defaults, attempt - 1, 0.3));
    }
    expect(backoffDelay(defaults, 10, 0.5)).toBeLessThan(120_000);
  });

  test("jitter keeps the delay within [0.8x, 1.2x): 0.8x at random 0, just under 1.2x near 1, none without jitter", () => {
    for (const attempt of [0, 1, 5, 20]) {
      expect(backoffDelay(defaults, attempt, 0)).toBeCloseTo(0.8 * base(attempt), 6);
      expect(backoffDelay(defaults, attempt, 0.999999)).toBeGreaterThan(1.199 * base(attempt));
      for (const delay of delays(attempt, [...Array.from({ length: 100 }, (_, i) => i / 100), 0.999999])) {
        expect(delay).toBeGreaterThanOrEqual(0.8 * base(attempt) - 1e-6);
        expect(delay).toBeLessThan(1.2 * base(attempt));
      }
    }
    const fixed = backoffOptions({ jitter: 0, initialDelay: 100, multiplier: 2, maxDelay: 1000 });
    expect([0, 0.5, 0.99].map((r) => backoffDelay(fixed, 2, r))).toEqual([400, 400, 400]);
  });

  test("options that make no sense throw a TypeError", () => {
    for (const bad of [
      { initialDelay: -1 }, { initialDelay: NaN }, { multiplier: 0.5 }, { multiplier: NaN }, { maxDelay: 999 },
      { initialDelay: 10, maxDelay: 5 }, { jitter: 1 }, { jitter: -0.1 }, { jitter: NaN },
    ]) expect(() => backoffOptions(bad)).toThrow(TypeError);
    expect(() => backoffOptions({ initialDelay: 0, maxDelay: 0, multiplier: 1, jitter: 0 })).not.toThrow();
  });
});

describe("RetryBudget", () => {
  /** A budget after some failures, then some successes. */
  const after = (failures: number, successes = 0, options = {}) => {
    const budget = new RetryBudget(options);
    for (let i = 0; i < failures; i++) budget.onFailure();
    for (let i = 0; i < successes; i++) budget.onSuccess();
    return budget;
  };

  test("the default bucket starts full at 100, and allows retries only while more than half is left", () => {
    const budget = new RetryBudget();
    expect([budget.maxTokens, budget.tokenRatio, budget.tokens, budget.allowsRetry]).toEqual([100, 0.1, 100, true]);
    expect([after(49).tokens, after(49).allowsRetry, after(50).tokens, after(50).allowsRetry]).toEqual([51, true, 50, false]);
  });

  test("tokens never go below 0 nor above the bucket's size, and successes refill it until retries are allowed again", () => {
    expect([after(25, 0, { maxTokens: 10, tokenRatio: 1 }).tokens, after(25, 25, { maxTokens: 10, tokenRatio: 1 }).tokens]).toEqual([0, 10]);
    expect(after(0, 5).tokens).toBe(100);
    expect(after(60, 50).tokens).toBeCloseTo(45, 6);
    expect(after(60, 50).allowsRetry).toBe(false);
    expect(after(50, 1).tokens).toBeCloseTo(50.1, 6);
    expect(after(50, 1).allowsRetry).toBe(true);
  });

  test("a bucket of no tokens or a ratio of no refill throws a TypeError", () => {
    for (const bad of [{ maxTokens: 0 }, { maxTokens: -5 }, { maxTokens: NaN }, { tokenRatio: 0 }, { tokenRatio: -1 }]) {
      expect(() => new RetryBudget(bad)).toThrow(TypeError);
    }
  });
});

describe("CircuitBreaker", () => {
  /** A breaker on a fake clock; `feed("ffs")` records failed/succeeded calls, `at(ms)` moves the clock; both return the state. */
  function breaker(options: CircuitBreakerOptions = {}) {
    let now = 0;
    const b = new CircuitBreaker(options, () => now);
    const feed = (outcomes: string) => ([...outcomes].forEach((o) => b.record(o === "f")), b.state);
    const at = (ms: number) => ((now = ms), b.state);
    return { b, feed, at };
  }

  test("it lets every call through while closed, and opens once minCalls ended with failureRatio of them failed", () => {
    const { b, feed } = breaker({ minCalls: 10, failureRatio: 0.5 });
    for (let i = 0; i < 100; i++) expect(b.tryAcquire()).toBe(true);
    expect([feed("sssssffff"), b.admits]).toEqual(["closed", true]); // 9 calls: too few
    expect([feed("f"), b.tryAcquire(), b.admits]).toEqual(["open", false, false]); // 10 calls, 5 failed
  });

  test("it stays closed below minCalls and below failureRatio; the defaults open at 20 failures and probe after 5 s", () => {
    expect(breaker({ minCalls: 10 }).feed("fffffffff")).toBe("closed");
    expect(breaker({ minCalls: 10, failureRatio: 0.5 }).feed("sssssssssssffffffffff")).toBe("closed"); // 10 of 21
    const { feed, at } = breaker();
    expect([feed("f".repeat(19)), feed("f"), at(4999), at(5000)]).toEqual(["closed", "open", "open", "half-open"]);
  });

  test("failures older than the window do not count", () => {
    const { feed, at } = breaker({ minCalls: 4, window: 1000 });
    feed("fff");
    at(1000);
    expect(feed("fff")).toBe("closed"); // the first three fell out of the window
    at(1999);
    expect(feed("f")).toBe("open"); // four within it
  });

  test("an open breaker turns half-open after openFor, counted from when it opened, whatever ends meanwhile", () => {
    const { b, feed, at } = breaker({ minCalls: 1, openFor: 500 });
    at(10_000);
    feed("f");
    at(10_499);
    expect([b.tryAcquire(), feed("fs"), at(10_500)]).toEqual([false, "open", "half-open"]);
  });

  test("a half-open breaker lets exactly halfOpenCalls probes through, and admits takes none", () => {
    const { b, feed, at } = breaker({ minCalls: 1, openFor: 100, halfOpenCalls: 3 });
    feed("f");
    expect(b.admits).toBe(false);
    at(100);
    for (let i = 0; i < 10; i++) expect(b.admits).toBe(true);
    expect([1, 2, 3, 4, 5].map(() => b.tryAcquire())).toEqual([true, true, true, false, false]);
    expect([b.admits, b.state]).toEqual([false, "half-open"]);
  });

  test("probes that all succeed close it, with the old failures forgotten", () => {
    const { b, feed, at } = breaker({ minCalls: 2, openFor: 100, halfOpenCalls: 2 });
    feed("ff");
    at(100);
    expect([b.tryAcquire(), b.tryAcquire()]).toEqual([true, true]);
    expect([feed("s"), feed("s"), feed("f")]).toEqual(["half-open", "closed", "closed"]); // then one failure is below minCalls
  });

  test("a probe that fails opens it again for another openFor, with a fresh set of probes after", () => {
    const { b, feed, at } = breaker({ minCalls: 1, openFor: 100 });
    feed("f");
    at(150);
    expect([b.tryAcquire(), feed("f"), at(249), at(250), b.tryAcquire()]).toEqual([true, "open", "open", "half-open", true]);
  });

  test("options that make no sense throw a TypeError", () => {
    for (const bad of [
      { failureRatio: 0 }, { failureRatio: -0.5 }, { failureRatio: 1.5 }, { failureRatio: NaN },
      { window: 0 }, { window: -10 }, { window: NaN }, { halfOpenCalls: 0 }, { halfOpenCalls: NaN },
    ]) expect(() => new CircuitBreaker(bad, () => 0)).toThrow(TypeError);
    expect(() => new CircuitBreaker({ failureRatio: 1 }, () => 0)).not.toThrow();
  });
});

describe("HashRing", () => {
  const MEMBERS = ["tcp://10.0.0.1:4000", "tcp://10.0.0.2:4000", "tcp://10.0.0.3:4000"];
  const ringOf = (members: readonly string[], ring = new HashRing<string>()) => (ring.set(members, (m) => m), ring);
  const owners = (ring: HashRing<string>) => KEYS.map((k) => ring.pick(k));

  /** FNV-1a and the avalanche written out with BigInt, modulo 2^32. */
  function referenceHash(text: string): number {
    let h = 0x811c9dc5n;
    for (let i = 0; i < text.length; i++) h = ((h ^ BigInt(text.charCodeAt(i))) * 0x01000193n) & 0xffffffffn;
    h ^= h >> 16n;
    h = (h * 0x85ebca6bn) & 0xffffffffn;
    return Number(h ^ (h >> 13n));
  }

  test("fnv1a is FNV-1a over UTF-16 code units plus the avalanche, as an unsigned 32-bit integer", () => {
    expect([fnv1a(""), fnv1a("a")]).toEqual([1572119809, 1469464775]);
    for (const text of ["", "a", "b", "tcp://h:1#0", "ünïcödé", "😀", "x".repeat(1000), ...KEYS.slice(0, 300)]) {
      expect(fnv1a(text)).toBe(referenceHash(text));
    }
  });

  test("an empty ring picks nothing, and replicas must be a positive integer", () => {
    const ring = new HashRing<string>();
    expect([ring.size, ring.pick("anything")]).toEqual([0, undefined]);
    ring.set([], (m) => m);
    expect(ring.pick("anything")).toBeUndefined();
    for (const bad of [0, -1, 1.5, NaN]) expect(() => new HashRing(bad)).toThrow(TypeError);
  });

  test("pick is stable for the same members, whatever their order, and each of 3 owns 20 % to 47 % of 10,000 keys", () => {
    const ring = ringOf(MEMBERS);
    const first = owners(ring);
    expect(ring.size).toBe(3);
    expect(owners(ring)).toEqual(first);
    expect(owners(ringOf([...MEMBERS].reverse()))).toEqual(first);
    for (const member of MEMBERS) {
      expect(first.filter((o) => o === member).length).toBeGreaterThanOrEqual(2000);
      expect(first.filter((o) => o === member).length).toBeLessThanOrEqual(4700);
    }
  });

  test("removing a member moves only the keys it owned, and adding it back restores every key", () => {
    const ring = ringOf(MEMBERS);
    const before = owners(ring);
    const after = owners(ringOf([MEMBERS[0], MEMBERS[2]], ring));
    KEYS.forEach((_, i) => {
      if (before[i] === MEMBERS[1]) expect(after[i]).not.toBe(MEMBERS[1]);
      else expect(after[i]).toBe(before[i]);
    });
    expect(before.filter((o) => o === MEMBERS[1]).length).toBeGreaterThan(0);
    expect(owners(ringOf(MEMBERS, ring))).toEqual(before);
  });

  test("when accept refuses the owner the key goes to the next member round the ring; refusing all gives undefined", () => {
    const ring = ringOf(MEMBERS);
    for (const refused of MEMBERS) {
      const without = ringOf(MEMBERS.filter((m) => m !== refused)); // the next member round is the owner without it
      for (const key of KEYS.slice(0, 2000)) expect(ring.pick(key, (m) => m !== refused)).toBe(without.pick(key));
    }
    for (const key of KEYS.slice(0, 100)) {
      expect(ring.pick(key, (m) => m === MEMBERS[2])).toBe(MEMBERS[2]);
      expect(ring.pick(key, () => false)).toBeUndefined();
    }
  });
});

describe("parseEndpoint", () => {
  test("reads tcp and tls endpoints with their port, IPv6 included, into a frozen object", () => {
    expect(parseEndpoint("tcp://127.0.0.1:4000")).toEqual({ url: "tcp://127.0.0.1:4000", scheme: "tcp", hostname: "127.0.0.1", port: 4000 });
    expect(parseEndpoint("tls://example.com:8443")).toEqual({ url: "tls://example.com:8443", scheme: "tls", hostname: "example.com", port: 8443 });
    expect(Object.isFrozen(parseEndpoint("tcp://h:1"))).toBe(true);
    // IPv6: no brackets in hostname, brackets in url
    expect(parseEndpoint("tcp://[::1]:4000")).toEqual({ url: "tcp://[::1]:4000", scheme: "tcp", hostname: "::1", port: 4000 });
    expect(parseEndpoint("ws://[::1]:8080/rpc").hostname).toBe("::1");
  });

  test("ws defaults to port 80 and wss to 443, and their url keeps the path", () => {
    expect(parseEndpoint("ws://example.com/rpc")).toEqual({ url: "ws://example.com/rpc", scheme: "ws", hostname: "example.com", port: 80 });
    expect(parseEndpoint("wss://example.com/rpc")).toEqual({ url: "wss://example.com/rpc", scheme: "wss", hostname: "example.com", port: 443 });
    expect(parseEndpoint("ws://example.com:8080/rpc").port).toBe(8080);
  });

  test("the url is normalised: scheme in lower case, no default port, no leading zeros, a path for ws", () => {
    expect(parseEndpoint("TCP://h:04000").url).toBe("tcp://h:4000");
    expect(parseEndpoint("wss://example.com:443/rpc").url).toBe("wss://example.com/rpc");
    expect(parseEndpoint("ws://Example.COM:80").url).toBe("ws://example.com/");
  });

  test("tcp without a port, a bad scheme, no host, or no URL at all throws a TypeError", () => {
    expect(() => parseEndpoint("tcp://127.0.0.1")).toThrow(/no port/);
    expect(() => parseEndpoint("tls://example.com")).toThrow(/no port/);
    expect(() => parseEndpoint("http://h:80")).toThrow(/scheme/);
    for (const bad of ["tcp://127.0.0.1", "http://h:80", "udp://h:53", "h:4000", "", "not a url", "tcp://h:99999", "tcp://:4000", "tcp:h:4000"]) {
      expect(() => parseEndpoint(bad)).toThrow(TypeError);
    }
  });
});

describe("retry", () => {
  /** The default policy without jitter, so delays are exact: 50, 100, 200, ... */
  const exact = resolveRetry({ backoff: { initialDelay: 50, multiplier: 2, maxDelay: 1000, jitter: 0 } });
  const unavailable = (unprocessed: boolean, details?: unknown) => new RpcError("unavailable", "down", { unprocessed, details });
  const delay = (error: unknown, { attempt = 0, idempotent = false, policy = exact, budget = new RetryBudget() } = {}) =>
    retryDelay(policy, error, attempt, idempotent, budget);

  test("the default policy: 3 attempts, unavailable only, 50 ms x2 up to 1 s +-20 %, not idempotent", () => {
    const policy = resolveRetry(undefined);
    expect([policy.maxAttempts, [...policy.codes], policy.idempotent]).toEqual([3, ["unavailable"], false]);
    expect(policy.backoff).toEqual({ initialDelay: 50, multiplier: 2, maxDelay: 1000, jitter: 0.2 });
    expect(delay(unavailable(true), { policy })).toBeGreaterThanOrEqual(40);
    expect(delay(unavailable(true), { policy })).toBeLessThan(60);
  });

  test("an unprocessed unavailable is retried after the backoff, until maxAttempts attempts have been made", () => {
    expect([0, 1, 2].map((attempt) => delay(unavailable(true), { attempt }))).toEqual([50, 100, null]);
    expect(delay(unavailable(true), { policy: resolveRetry({ maxAttempts: 1 }, exact) })).toBeNull();
  });

  test("a processed unavailable is retried only when the call or the policy is idempotent", () => {
    expect(delay(unavailable(false))).toBeNull();
    expect(delay(unavailable(false), { idempotent: true })).toBe(50);
    expect(delay(unavailable(false), { policy: resolveRetry({ idempotent: true }, exact) })).toBe(50);
  });

  test("a code not in codes, or an error that is not an RpcError, is not retried", () => {
    const internal = new RpcError("internal", "boom", { unprocessed: true });
    expect(delay(internal, { idempotent: true })).toBeNull();
    expect(delay(new Error("unavailable"), { idempotent: true })).toBeNull();
    const onInternal = resolveRetry({ codes: ["internal"] }, exact);
    expect([delay(internal, { policy: onInternal }), delay(unavailable(true), { policy: onInternal })]).toEqual([50, null]);
  });

  test("an exhausted budget refuses a processed failure but still lets an unprocessed one retry", () => {
    const budget = new RetryBudget({ maxTokens: 2 });
    budget.onFailure();
    expect(budget.allowsRetry).toBe(false);
    expect(delay(unavailable(false), { idempotent: true, budget })).toBeNull();
    expect(delay(unavailable(true), { budget })).toBe(50);
  });

  test("a retryAfter in the details raises the delay to at least that; a bad one is ignored", () => {
    expect(delay(unavailable(true, { retryAfter: 700 }))).toBe(700);
    expect(delay(unavailable(true, { retryAfter: 10 }), { attempt: 1 })).toBe(100);
    expect(delay(unavailable(true, { retryAfter: -5 }))).toBe(50);
    expect(delay(unavailable(true, { retryAfter: "soon" }))).toBe(50);
  });

  test("resolveRetry(false) is NO_RETRY, which never retries", () => {
    expect(resolveRetry(false)).toBe(NO_RETRY);
    expect(resolveRetry(false, exact)).toBe(NO_RETRY);
    expect(NO_RETRY.maxAttempts).toBe(1);
    expect(delay(unavailable(true), { policy: NO_RETRY, idempotent: true })).toBeNull();
  });

  test("resolveRetry over a base keeps the base's values except those the policy sets", () => {
    const base = resolveRetry({ maxAttempts: 5, codes: ["unavailable", "internal"], idempotent: true }, exact);
    expect(resolveRetry(undefined, base)).toBe(base);
    const same = resolveRetry({}, base);
    expect([same.maxAttempts, [...same.codes].sort(), same.backoff, same.idempotent]).toEqual([5, ["internal", "unavailable"], exact.backoff, true]);
    const changed = resolveRetry({ maxAttempts: 2, idempotent: false }, base);
    expect([changed.maxAttempts, changed.idempotent, changed.codes]).toEqual([2, false, base.codes]);
  });

  test("a maxAttempts that is not an integer >= 1 throws a TypeError", () => {
    for (const bad of [0, -1, 1.5, NaN, Infinity]) expect(() => resolveRetry({ maxAttempts: bad })).toThrow(TypeError);
  });
});

describe("Picker", () => {
  type Fake = { usable: boolean; inFlight: number; endpoint: { url: string } };
  const fakes = (n: number): Fake[] =>
    Array.from({ length: n }, (_, i) => ({ usable: true, inFlight: 0, endpoint: { url: `tcp://10.0.0.${i + 1}:4000` } }));
  const pickerOf = (policy: BalancePolicy, all: Fake[], random?: () => number) => {
    const picker = new Picker(policy, random);
    picker.setSubchannels(all as unknown as Subchannel[]);
    return (key?: string) => picker.pick(key) as unknown as Fake | null;
  };
  const times = <T>(n: number, f: () => T) => Array.from({ length: n }, f);

  test("round-robin (and consistent-hash without a key) cycles through the usable members in order, skipping the others", () => {
    const all = fakes(3);
    const pick = pickerOf("round-robin", all);
    expect(times(6, () => pick())).toEqual([all[0], all[1], all[2], all[0], all[1], all[2]]);
    all[1].usable = false;
    expect(times(4, () => pick())).toEqual([all[0], all[2], all[0], all[2]]);
    const hashed = fakes(3);
    const pickHashed = pickerOf("consistent-hash", hashed); // without a key, consistent-hash is round-robin
    expect(times(4, () => pickHashed())).toEqual([hashed[0], hashed[1], hashed[2], hashed[0]]);
  });

  test("every policy returns null when no member is usable, or there are none", () => {
    const none = fakes(3).map((f) => ({ ...f, usable: false }));
    for (const policy of BALANCE_POLICIES) {
      expect([pickerOf(policy, none, () => 0.5)("k"), pickerOf(policy, none, () => 0.5)(), pickerOf(policy, [])("k")]).toEqual([null, null, null]);
    }
  });

  test("least-loaded never picks the busier of exactly two usable members", () => {
    const all = fakes(3);
    all[1].usable = false;
    const pick = pickerOf("least-loaded", all, seeded(42));
    for (const [a, c] of [[5, 1], [1, 5], [0, 1], [1, 0]]) {
      [all[0].inFlight, all[2].inFlight] = [a, c];
      for (let i = 0; i < 200; i++) expect(pick()).toBe(a < c ? all[0] : all[2]);
    }
    const five = fakes(5);
    five[3].inFlight = 9;
    const pickOfFive = pickerOf("least-loaded", five, seeded(7));
    for (let i = 0; i < 500; i++) expect(pickOfFive()).not.toBe(five[3]); // the busiest loses every pair it is in
    for (const fake of five) fake.usable = fake === five[3];
    expect(pickOfFive()).toBe(five[3]); // unless it is the only one
  });

  test("random with a fixed random function always picks the same usable member", () => {
    const all = fakes(4);
    expect([0, 0.5, 0.999].map((r) => pickerOf("random", all, () => r)())).toEqual([all[0], all[2], all[3]]);
    all[0].usable = false;
    const pick = pickerOf("random", all, () => 0);
    expect(times(5, () => pick())).toEqual(times(5, () => all[1]));
  });

  test("consistent-hash sends a key to the same member, and elsewhere only while that member is unusable", () => {
    const all = fakes(3);
    const pick = pickerOf("consistent-hash", all);
    const keys = KEYS.slice(0, 300);
    const first = keys.map((k) => pick(k));
    expect(keys.map((k) => pick(k))).toEqual(first);
    expect(new Set(first).size).toBe(3);
    const down = first[0]!;
    down.usable = false;
    keys.forEach((k, i) => first[i] === down ? expect(pick(k)).not.toBe(down) : expect(pick(k)).toBe(first[i]));
    down.usable = true;
    expect(keys.map((k) => pick(k))).toEqual(first);
  });

  test("an unknown policy throws a TypeError", () => {
    expect(() => new Picker("weighted" as BalancePolicy)).toThrow(TypeError);
    expect(() => new Picker(undefined as unknown as BalancePolicy)).toThrow(TypeError);
    for (const policy of BALANCE_POLICIES) expect(new Picker(policy).policy).toBe(policy);
  });
});

describe("fixed after review", () => {
  test("a partial retry backoff fills in from the retry defaults (or the base policy), not the reconnect ones", () => {
    expect(resolveRetry({ backoff: { maxDelay: 500 } }).backoff).toEqual({ initialDelay: 50, multiplier: 2, maxDelay: 500, jitter: 0.2 });
    const base = resolveRetry({ backoff: { initialDelay: 10, multiplier: 3, maxDelay: 90, jitter: 0.2 } });
    expect(resolveRetry({ backoff: { jitter: 0.1 } }, base).backoff).toEqual({ initialDelay: 10, multiplier: 3, maxDelay: 90, jitter: 0.1 });
  });

  test("an option given as undefined keeps its default", () => {
    expect(backoffOptions({ initialDelay: undefined, maxDelay: undefined })).toEqual(DEFAULT_BACKOFF);
  });

  test("a success that brings the count up to minCalls opens the breaker when the ratio is reached", () => {
    const breaker = new CircuitBreaker({ minCalls: 4, failureRatio: 0.5 }, () => 0);
    for (const failed of [true, true, true, false]) breaker.record(failed);
    expect(breaker.state).toBe("open");
  });

  test("minCalls and openFor are checked", () => {
    expect(() => new CircuitBreaker({ minCalls: Number.NaN })).toThrow(TypeError);
    expect(() => new CircuitBreaker({ openFor: Number.NaN })).toThrow(TypeError);
  });

  test("tcp host names are lower-cased, and a tcp endpoint with a path is refused", () => {
    expect(parseEndpoint("tcp://Example.COM:4000").url).toBe("tcp://example.com:4000");
    expect(() => parseEndpoint("tcp://h:4000/path")).toThrow(TypeError);
  });
});
