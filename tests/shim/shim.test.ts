/**
 * Self-test of the bun:test shim (tests/shim/bun_test.ts + expect.ts).
 *
 * Runs on all three runtimes. Under Bun it exercises Bun's own expect, which
 * keeps the shim honest: every case here must behave the same on Bun.
 * Failure checks use try/catch (not expect) so a broken matcher cannot hide
 * its own failure.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** The assertion must throw. */
function fails(label: string, fn: () => void): void {
  let threw = false;
  try {
    fn();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error(`expected assertion to fail but it passed: ${label}`);
}

/** The assertion must not throw (rethrows with context). */
function passes(label: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    throw new Error(`expected assertion to pass: ${label}\n${e instanceof Error ? e.message : String(e)}`);
  }
}

async function failsAsync(label: string, fn: () => Promise<void>): Promise<void> {
  let threw = false;
  try {
    await fn();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error(`expected async assertion to fail but it passed: ${label}`);
}

function messageOf(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error("expected assertion to fail but it passed");
}

class Custom extends Error {}
class Point {
  x = 1;
}

/** [name, assertion that must pass, assertion that must fail] */
const cases: Array<[string, () => void, () => void]> = [
  ["toBe", () => expect(1).toBe(1), () => expect({}).toBe({})],
  ["not.toBe", () => expect(1).not.toBe(2), () => expect("a").not.toBe("a")],
  ["toBe NaN / -0", () => expect(NaN).toBe(NaN), () => expect(0).toBe(-0)],
  ["toEqual", () => expect({ a: [1, { b: 2n }] }).toEqual({ a: [1, { b: 2n }] }), () => expect({ a: 1 }).toEqual({ a: 2 })],
  ["not.toEqual", () => expect({ a: 1 }).not.toEqual({ a: 2 }), () => expect([1]).not.toEqual([1])],
  ["toEqual undefined props", () => expect<unknown>({ a: 1, b: undefined }).toEqual({ a: 1 }), () => expect<unknown>({ a: 1, b: 0 }).toEqual({ a: 1 })],
  ["toEqual Uint8Array", () => expect(new Uint8Array([1, 2, 3])).toEqual(new Uint8Array([1, 2, 3])), () => expect(new Uint8Array([1, 2, 3])).toEqual(new Uint8Array([1, 2, 4]))],
  ["toEqual Uint8Array vs array", () => expect(new Uint8Array([1])).toEqual(new Uint8Array([1])), () => expect<unknown>(new Uint8Array([1])).toEqual([1])],
  ["toEqual Uint8Array kinds", () => expect(new Uint16Array([1])).toEqual(new Uint16Array([1])), () => expect<unknown>(new Uint8Array([1])).toEqual(new Uint16Array([1]))],
  ["toEqual Uint8Array length", () => expect(new Uint8Array(0)).toEqual(new Uint8Array(0)), () => expect(new Uint8Array([1, 2])).toEqual(new Uint8Array([1]))],
  ["toEqual ArrayBuffer", () => expect(new Uint8Array([1, 2]).buffer).toEqual(new Uint8Array([1, 2]).buffer), () => expect(new Uint8Array([1, 2]).buffer).toEqual(new Uint8Array([1, 3]).buffer)],
  // (No DataView case: Bun 1.4's toEqual treats all DataViews as equal; the shim compares their bytes.)
  ["toEqual Map", () => expect(new Map<unknown, unknown>([[1, { a: 1 }], [{ k: 1 }, 2]])).toEqual(new Map<unknown, unknown>([[{ k: 1 }, 2], [1, { a: 1 }]])), () => expect(new Map([[1, 1]])).toEqual(new Map([[1, 2]]))],
  ["toEqual Set", () => expect(new Set([1, { a: 1 }])).toEqual(new Set([{ a: 1 }, 1])), () => expect(new Set([1, 2])).toEqual(new Set([1, 3]))],
  ["toEqual Date", () => expect(new Date(5)).toEqual(new Date(5)), () => expect(new Date(5)).toEqual(new Date(6))],
  ["toEqual RegExp", () => expect(/a/g).toEqual(/a/g), () => expect(/a/g).toEqual(/a/i)],
  ["toEqual Error", () => expect(new Error("x")).toEqual(new Error("x")), () => expect(new TypeError("x")).toEqual(new Error("x"))],
  ["toEqual bigint", () => expect(10n).toEqual(10n), () => expect<unknown>(10n).toEqual(10)],
  ["toEqual class vs plain", () => expect(new Point()).toEqual({ x: 1 }), () => expect({ 0: 1, length: 1 }).toEqual([1])],
  ["toEqual sparse/undefined slots", () => expect([, 1]).toEqual([undefined, 1]), () => expect([1, 2]).toEqual([1])],
  ["toEqual nested arrays of objects", () => expect([{ a: [{ b: 1 }] }]).toEqual([{ a: [{ b: 1 }] }]), () => expect([{ a: [{ b: 1 }] }]).toEqual([{ a: [{ b: 2 }] }])],
  ["toEqual boxed", () => expect("a").toEqual("a"), () => expect(new String("a")).toEqual("a")],
  ["toEqual symbol keys", () => { const s = Symbol("s"); expect({ [s]: 1 }).toEqual({ [s]: 1 }); }, () => { const s = Symbol("s"); expect({ [s]: 1 }).toEqual({ [s]: 2 }); }],
  ["toEqual circular", () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    const b: Record<string, unknown> = { x: 1 };
    b.self = b;
    expect(a).toEqual(b);
  }, () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    const b: Record<string, unknown> = { x: 2 };
    b.self = b;
    expect(a).toEqual(b);
  }],
  ["toStrictEqual", () => expect({ a: [1, 2] }).toStrictEqual({ a: [1, 2] }), () => expect<unknown>({ a: 1, b: undefined }).toStrictEqual({ a: 1 })],
  ["toStrictEqual class", () => expect(Object.assign(Object.create(null), { a: 1 })).toStrictEqual({ a: 1 }), () => expect(new Point()).toStrictEqual({ x: 1 })],
  ["toStrictEqual sparse", () => expect([undefined]).toStrictEqual([undefined]), () => expect([, 1]).toStrictEqual([undefined, 1])],
  ["not.toStrictEqual", () => expect({ a: undefined }).not.toStrictEqual({}), () => expect({}).not.toStrictEqual({})],
  ["toBeTruthy", () => expect(1).toBeTruthy(), () => expect(0).toBeTruthy()],
  ["toBeFalsy", () => expect("").toBeFalsy(), () => expect("x").toBeFalsy()],
  ["not.toBeTruthy", () => expect(null).not.toBeTruthy(), () => expect([]).not.toBeTruthy()],
  ["toBeDefined", () => expect(null).toBeDefined(), () => expect(undefined).toBeDefined()],
  ["toBeUndefined", () => expect(undefined).toBeUndefined(), () => expect(null).toBeUndefined()],
  ["toBeNull", () => expect(null).toBeNull(), () => expect(undefined).toBeNull()],
  ["not.toBeNull", () => expect(0).not.toBeNull(), () => expect(null).not.toBeNull()],
  ["toBeNaN", () => expect(NaN).toBeNaN(), () => expect(1).toBeNaN()],
  ["toBeGreaterThan", () => expect(2).toBeGreaterThan(1), () => expect(1).toBeGreaterThan(1)],
  ["toBeGreaterThan bigint", () => expect(2n).toBeGreaterThan(1), () => expect(1n).toBeGreaterThan(1n)],
  ["toBeGreaterThanOrEqual", () => expect(1).toBeGreaterThanOrEqual(1), () => expect(0).toBeGreaterThanOrEqual(1)],
  ["toBeLessThan", () => expect(1).toBeLessThan(2), () => expect(2).toBeLessThan(2)],
  ["toBeLessThanOrEqual", () => expect(2n).toBeLessThanOrEqual(2n), () => expect(3).toBeLessThanOrEqual(2)],
  ["not.toBeLessThan", () => expect(2).not.toBeLessThan(1), () => expect(1).not.toBeLessThan(2)],
  ["toBeCloseTo", () => expect(0.1 + 0.2).toBeCloseTo(0.3), () => expect(0.31).toBeCloseTo(0.3)],
  ["toBeCloseTo digits", () => expect(0.31).toBeCloseTo(0.3, 1), () => expect(0.3).toBeCloseTo(0.31, 5)],
  ["toContain string", () => expect("hello").toContain("ell"), () => expect("hello").toContain("xyz")],
  ["toContain array", () => expect([1, 2, 3]).toContain(2), () => expect([{ a: 1 }]).toContain({ a: 1 })],
  ["toContain Set/Uint8Array", () => expect(new Uint8Array([7, 8])).toContain(8), () => expect(new Set([1])).toContain(2)],
  ["not.toContain", () => expect([1, 2]).not.toContain(3), () => expect("abc").not.toContain("b")],
  ["toContainEqual", () => expect([{ a: 1 }]).toContainEqual({ a: 1 }), () => expect([{ a: 1 }]).toContainEqual({ a: 2 })],
  ["toHaveLength", () => expect([1, 2]).toHaveLength(2), () => expect("abc").toHaveLength(2)],
  ["toHaveLength Uint8Array", () => expect(new Uint8Array(4)).toHaveLength(4), () => expect(new Uint8Array(4)).toHaveLength(3)],
  ["not.toHaveLength", () => expect([]).not.toHaveLength(1), () => expect([]).not.toHaveLength(0)],
  ["toBeInstanceOf", () => expect(new Custom("x")).toBeInstanceOf(Error), () => expect(new Error("x")).toBeInstanceOf(Custom)],
  ["toBeInstanceOf Uint8Array", () => expect(new Uint8Array(1)).toBeInstanceOf(Uint8Array), () => expect([1]).toBeInstanceOf(Uint8Array)],
  ["toThrow", () => expect(() => { throw new Error("boom"); }).toThrow(), () => expect(() => {}).toThrow()],
  ["toThrow substring", () => expect(() => { throw new Error("big boom"); }).toThrow("boom"), () => expect(() => { throw new Error("big boom"); }).toThrow("bang")],
  ["toThrow RegExp", () => expect(() => { throw new Error("code 42"); }).toThrow(/\d+$/), () => expect(() => { throw new Error("code x"); }).toThrow(/\d+$/)],
  ["toThrow class", () => expect(() => { throw new Custom("c"); }).toThrow(Custom), () => expect(() => { throw new Error("c"); }).toThrow(Custom)],
  ["toThrow error object", () => expect(() => { throw new TypeError("exact"); }).toThrow(new Error("exact")), () => expect(() => { throw new Error("exact!"); }).toThrow(new Error("exact"))],
  ["toThrow non-error value", () => expect(() => { throw "plain string"; }).toThrow("plain"), () => expect(() => { throw "plain string"; }).toThrow("other")],
  ["not.toThrow", () => expect(() => 1).not.toThrow(), () => expect(() => { throw new Error("x"); }).not.toThrow()],
  ["not.toThrow mismatching", () => expect(() => { throw new Error("a"); }).not.toThrow("b"), () => expect(() => { throw new Error("a"); }).not.toThrow("a")],
  ["toMatch", () => expect("weft rpc").toMatch(/^weft/), () => expect("weft rpc").toMatch(/^rpc/)],
  ["toMatch string", () => expect("weft rpc").toMatch("t r"), () => expect("weft rpc").toMatch("qrpc")],
  ["not.toMatch", () => expect("abc").not.toMatch(/z/), () => expect("abc").not.toMatch("b")],
  ["toMatchObject", () => expect({ a: 1, b: { c: 2, d: 3 } }).toMatchObject({ b: { c: 2 } }), () => expect({ a: 1, b: { c: 2 } }).toMatchObject({ b: { c: 3 } })],
  ["toMatchObject arrays", () => expect({ list: [{ id: 1, x: 0 }] }).toMatchObject({ list: [{ id: 1 }] }), () => expect({ list: [{ id: 1 }, { id: 2 }] }).toMatchObject({ list: [{ id: 1 }] })],
  ["toMatchObject missing undefined", () => expect({ a: 1, b: undefined }).toMatchObject({ b: undefined }), () => expect({ a: 1 }).toMatchObject({ b: undefined })],
  ["not.toMatchObject", () => expect({ a: 1 }).not.toMatchObject({ a: 2 }), () => expect({ a: 1, b: 2 }).not.toMatchObject({ a: 1 })],
  ["toHaveProperty", () => expect({ a: { b: [1, { c: 2 }] } }).toHaveProperty("a.b[1].c"), () => expect({ a: { b: 1 } }).toHaveProperty("a.c")],
  ["toHaveProperty value", () => expect({ a: { b: [1, { c: 2 }] } }).toHaveProperty("a.b[1].c", 2), () => expect({ a: { b: 1 } }).toHaveProperty("a.b", 2)],
  ["toHaveProperty array path", () => expect({ a: { "b.c": 1 } }).toHaveProperty(["a", "b.c"], 1), () => expect({ a: { "b.c": 1 } }).toHaveProperty("a.b.c")],
  ["toHaveProperty undefined value", () => expect({ a: undefined }).toHaveProperty("a"), () => expect({}).toHaveProperty("a")],
  ["not.toHaveProperty", () => expect({ a: 1 }).not.toHaveProperty("b"), () => expect({ a: 1 }).not.toHaveProperty("a")],
  ["asymmetric any/anything", () => expect({ id: 3, s: "x", n: 1n }).toEqual({ id: expect.any(Number), s: expect.any(String), n: expect.anything() }), () => expect({ id: "3" }).toEqual({ id: expect.any(Number) })],
  ["asymmetric containing", () => expect({ a: "hello", b: [1, 2, 3] }).toEqual({ a: expect.stringContaining("ell"), b: expect.arrayContaining([3, 1]) }), () => expect({ a: 1, b: 2 }).toEqual(expect.objectContaining({ c: 3 }))],
  ["asymmetric stringMatching", () => expect(["id-12"]).toEqual([expect.stringMatching(/^id-\d+$/)]), () => expect(["id-x"]).toEqual([expect.stringMatching(/^id-\d+$/)])],
  ["toBeTypeOf", () => expect(1n).toBeTypeOf("bigint"), () => expect("1").toBeTypeOf("number")],
  ["expect.unreachable", () => {}, () => expect.unreachable("nope")],
];

describe("expect: each matcher passes on a true case and throws on a false case", () => {
  for (const [name, ok, bad] of cases) {
    test(name, () => {
      passes(name, ok);
      fails(name, bad);
    });
  }
});

describe("expect: resolves / rejects", () => {
  test("resolves", async () => {
    await expect(Promise.resolve(5)).resolves.toBe(5);
    await expect(Promise.resolve({ a: 1n })).resolves.toEqual({ a: 1n });
    await expect(Promise.resolve(5)).resolves.not.toBe(6);
    await failsAsync("resolves wrong value", async () => {
      await expect(Promise.resolve(5)).resolves.toBe(6);
    });
    await failsAsync("resolves on rejection", async () => {
      await expect(Promise.reject(new Error("x"))).resolves.toBeDefined();
    });
  });

  test("rejects", async () => {
    await expect(Promise.reject(new Error("bad thing"))).rejects.toThrow("bad");
    await expect(Promise.reject(new Custom("c"))).rejects.toThrow(Custom);
    await expect(Promise.reject(new Error("bad"))).rejects.toBeInstanceOf(Error);
    await expect(Promise.reject(new Error("bad"))).rejects.not.toThrow("good");
    // deno-lint-ignore require-await
    const failing = async (): Promise<never> => {
      throw new Error("from async fn");
    };
    await expect(failing()).rejects.toThrow(/async/);
    await failsAsync("rejects on resolution", async () => {
      await expect(Promise.resolve(1)).rejects.toThrow();
    });
    await failsAsync("rejects wrong message", async () => {
      await expect(Promise.reject(new Error("a"))).rejects.toThrow("b");
    });
  });
});

describe("runner: hooks, nesting, async", () => {
  const log: string[] = [];
  beforeAll(async () => {
    await new Promise((r) => setTimeout(r, 1));
    log.push("beforeAll");
  });
  beforeEach(() => {
    log.push("beforeEach");
  });
  afterEach(() => {
    log.push("afterEach");
  });
  afterAll(() => {
    log.push("afterAll");
    hookLog.push(...log);
  });

  test("first", async () => {
    await new Promise((r) => setTimeout(r, 5));
    log.push("first");
  });

  describe("nested", () => {
    test("second", () => {
      log.push("second");
    });
  });

  test("explicit timeout (ms as third argument) is accepted", async () => {
    await new Promise((r) => setTimeout(r, 5));
  }, 10_000);

  test("done callback", (done) => {
    setTimeout(() => done(), 5);
  });
});

const hookLog: string[] = [];

test("runner: hooks ran in bun order", () => {
  expect(hookLog).toEqual([
    "beforeAll",
    "beforeEach",
    "first",
    "afterEach",
    "beforeEach",
    "second",
    "afterEach",
    "beforeEach",
    "afterEach",
    "beforeEach",
    "afterEach",
    "afterAll",
  ]);
});

test.each([
  [1, 2, 3],
  [2, 3, 5],
])("runner: test.each %i + %i = %i", (a, b, sum) => {
  expect(a + b).toBe(sum);
});

test.if(true)("runner: test.if(true) runs", () => {
  expect(true).toBe(true);
});

test.if(false)("runner: test.if(false) is skipped", () => {
  throw new Error("must not run");
});

test.skip("runner: test.skip is skipped", () => {
  throw new Error("must not run");
});

test.todo("runner: test.todo is not run");

// Message formatting is shim-specific (Bun formats differently), so only check it off Bun.
describe("shim: failure messages", () => {
  test.if(!isBun)("show expected and received, bigint and bytes", () => {
    const m1 = messageOf(() => expect(1n).toBe(2n));
    if (!m1.includes("Expected: 2n") || !m1.includes("Received: 1n")) throw new Error(`bad message:\n${m1}`);
    const m2 = messageOf(() => expect(new Uint8Array([1, 2, 3])).toEqual(new Uint8Array([1, 2, 4])));
    if (!m2.includes("Uint8Array(3) [ 1, 2, 3 ]") || !m2.includes("Uint8Array(3) [ 1, 2, 4 ]")) {
      throw new Error(`bad message:\n${m2}`);
    }
    const m3 = messageOf(() => expect({ a: 1, b: { c: [1, 2] } }).toEqual({ a: 1, b: { c: [1, 3] } }));
    if (!m3.includes("Expected") || !m3.includes("Received")) throw new Error(`bad message:\n${m3}`);
    const m4 = messageOf(() => expect(1).not.toBe(1));
    if (!m4.includes(".not.toBe") || !m4.includes("Expected: not 1")) throw new Error(`bad message:\n${m4}`);
  });
});
