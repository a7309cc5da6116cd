/**
 * A from-scratch implementation of the subset of `expect` from `bun:test`
 * that the weft conformance suite uses. Loaded only under Deno and Node (via
 * tests/shim/bun_test.ts); under Bun the native `expect` is used instead.
 *
 * Semantics follow Bun (which follows Jest):
 *  - toEqual: recursive, ignores properties (and array slots) whose value is
 *    undefined, ignores sparseness, does not compare prototypes/classes, but
 *    does compare the builtin kind (Array vs object, Uint8Array vs Uint16Array,
 *    Map, Set, Date, RegExp, Error, ArrayBuffer, DataView, boxed primitives).
 *    Primitives are compared with Object.is (so 0 !== -0 and NaN === NaN).
 *  - toStrictEqual: additionally undefined properties, sparseness and
 *    constructors matter (plain and null-prototype objects count as the same
 *    type, as do typed arrays of the same kind, e.g. Buffer and Uint8Array).
 *  - toMatchObject: recursive subset match; arrays must have equal length.
 */
import { inspect } from "node:util";

// ---------------------------------------------------------------------------
// Errors

/** Thrown when an expectation fails. */
export class ExpectationError extends Error {
  override name = "AssertionError";
}

/** Thrown when a matcher is used with arguments of the wrong kind. */
class MatcherUsageError extends Error {
  override name = "MatcherUsageError";
}

// ---------------------------------------------------------------------------
// Asymmetric matchers (expect.any(...), expect.objectContaining(...), ...)

const inspectCustom = Symbol.for("nodejs.util.inspect.custom");

export abstract class AsymmetricMatcher {
  abstract asymmetricMatch(other: unknown): boolean;
  abstract toString(): string;
  [inspectCustom](): string {
    return this.toString();
  }
}

// deno-lint-ignore no-explicit-any
type Constructor = abstract new (...args: any[]) => unknown;

class Any extends AsymmetricMatcher {
  constructor(private readonly ctor: Constructor) {
    super();
    if (typeof ctor !== "function") {
      throw new MatcherUsageError("expect.any() expects a constructor function, e.g. expect.any(Number)");
    }
  }
  asymmetricMatch(other: unknown): boolean {
    const c: unknown = this.ctor;
    if (c === Number) return typeof other === "number" || other instanceof Number;
    if (c === String) return typeof other === "string" || other instanceof String;
    if (c === Boolean) return typeof other === "boolean" || other instanceof Boolean;
    if (c === BigInt) return typeof other === "bigint";
    if (c === Symbol) return typeof other === "symbol";
    if (c === Function) return typeof other === "function";
    if (c === Object) return typeof other === "object" && other !== null;
    return other instanceof this.ctor;
  }
  toString(): string {
    return `Any<${this.ctor.name}>`;
  }
}

class Anything extends AsymmetricMatcher {
  asymmetricMatch(other: unknown): boolean {
    return other !== null && other !== undefined;
  }
  toString(): string {
    return "Anything";
  }
}

class StringContaining extends AsymmetricMatcher {
  constructor(private readonly sub: string) {
    super();
  }
  asymmetricMatch(other: unknown): boolean {
    return typeof other === "string" && other.includes(this.sub);
  }
  toString(): string {
    return `StringContaining ${JSON.stringify(this.sub)}`;
  }
}

class StringMatching extends AsymmetricMatcher {
  private readonly re: RegExp;
  constructor(pattern: string | RegExp) {
    super();
    this.re = typeof pattern === "string" ? new RegExp(pattern) : pattern;
  }
  asymmetricMatch(other: unknown): boolean {
    return typeof other === "string" && other.match(this.re) !== null;
  }
  toString(): string {
    return `StringMatching ${String(this.re)}`;
  }
}

class ObjectContaining extends AsymmetricMatcher {
  constructor(private readonly sample: object) {
    super();
  }
  asymmetricMatch(other: unknown): boolean {
    if (typeof other !== "object" || other === null) return false;
    for (const key of ownKeys(this.sample)) {
      if (!hasProperty(other, key)) return false;
      const want = (this.sample as Record<PropertyKey, unknown>)[key];
      if (!equals((other as Record<PropertyKey, unknown>)[key], want, false)) return false;
    }
    return true;
  }
  toString(): string {
    return `ObjectContaining ${fmt(this.sample)}`;
  }
}

class ArrayContaining extends AsymmetricMatcher {
  constructor(private readonly sample: readonly unknown[]) {
    super();
  }
  asymmetricMatch(other: unknown): boolean {
    if (!Array.isArray(other)) return false;
    return this.sample.every((want) => other.some((item) => equals(item, want, false)));
  }
  toString(): string {
    return `ArrayContaining ${fmt(this.sample)}`;
  }
}

// ---------------------------------------------------------------------------
// Formatting

/** Pretty-print a value for failure messages (bigint -> 1n, Uint8Array(3) [ 1, 2, 3 ], ...). */
export function fmt(value: unknown): string {
  return inspect(value, {
    depth: 8,
    colors: false,
    compact: 3,
    breakLength: 80,
    sorted: true,
    maxArrayLength: 64,
    maxStringLength: 2000,
  });
}

/** Minimal LCS line diff: "- expected" / "+ received" / "  common". */
function lineDiff(expected: string, received: string): string | null {
  const a = expected.split("\n");
  const b = received.split("\n");
  if (a.length < 2 && b.length < 2) return null;
  if (a.length * b.length > 250_000) return null;
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: string[] = ["- Expected", "+ Received", ""];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out.push(`+ ${b[j]}`);
      j++;
    } else {
      out.push(`- ${a[i]}`);
      i++;
    }
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------
// Equality

function ownKeys(obj: object): PropertyKey[] {
  const keys: PropertyKey[] = Object.keys(obj);
  for (const sym of Object.getOwnPropertySymbols(obj)) {
    if (Object.prototype.propertyIsEnumerable.call(obj, sym)) keys.push(sym);
  }
  return keys;
}

function hasProperty(obj: unknown, key: PropertyKey): boolean {
  if (obj === null || obj === undefined) return false;
  return key in Object(obj);
}

function isPlainish(obj: object): boolean {
  const proto: unknown = Object.getPrototypeOf(obj);
  return proto === null || proto === Object.prototype;
}

function sameType(a: object, b: object): boolean {
  if (isPlainish(a) && isPlainish(b)) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) return true; // tags already equal
  return (a as { constructor?: unknown }).constructor === (b as { constructor?: unknown }).constructor;
}

function bytesOf(view: ArrayBufferView | ArrayBufferLike): Uint8Array {
  return ArrayBuffer.isView(view)
    ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    : new Uint8Array(view);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Deep equality; `strict` selects toStrictEqual semantics. */
export function equals(a: unknown, b: unknown, strict: boolean, seen: Array<[unknown, unknown]> = []): boolean {
  if (a instanceof AsymmetricMatcher) return a.asymmetricMatch(b);
  if (b instanceof AsymmetricMatcher) return b.asymmetricMatch(a);
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;

  const tag = Object.prototype.toString.call(a);
  if (tag !== Object.prototype.toString.call(b)) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (strict && !sameType(a, b)) return false;

  for (const [x, y] of seen) if (x === a) return y === b;
  seen.push([a, b]);
  try {
    return equalObjects(a, b, tag, strict, seen);
  } finally {
    seen.pop();
  }
}

function equalObjects(a: object, b: object, tag: string, strict: boolean, seen: Array<[unknown, unknown]>): boolean {
  if (a instanceof Date || tag === "[object Date]") {
    return Object.is((a as Date).getTime(), (b as Date).getTime());
  }
  if (a instanceof RegExp) {
    const rb = b as RegExp;
    return a.source === rb.source && a.flags === rb.flags;
  }
  if (tag === "[object Number]" || tag === "[object String]" || tag === "[object Boolean]") {
    if (!Object.is((a as { valueOf(): unknown }).valueOf(), (b as { valueOf(): unknown }).valueOf())) return false;
  }
  if (a instanceof Error) {
    const eb = b as Error;
    if (a.name !== eb.name || a.message !== eb.message) return false;
  }
  if (tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]") {
    return bytesEqual(bytesOf(a as ArrayBuffer), bytesOf(b as ArrayBuffer));
  }
  if (a instanceof DataView) {
    return bytesEqual(bytesOf(a), bytesOf(b as DataView));
  }
  if (ArrayBuffer.isView(a)) {
    const ta = a as unknown as ArrayLike<number | bigint>;
    const tb = b as unknown as ArrayLike<number | bigint>;
    if (ta.length !== tb.length) return false;
    for (let i = 0; i < ta.length; i++) if (!Object.is(ta[i], tb[i])) return false;
    return true;
  }
  if (a instanceof Map) {
    const mb = b as Map<unknown, unknown>;
    if (a.size !== mb.size) return false;
    outer: for (const [k, v] of a) {
      if (mb.has(k)) {
        if (equals(v, mb.get(k), strict, seen)) continue;
        return false;
      }
      for (const [k2, v2] of mb) {
        if (equals(k, k2, strict, seen) && equals(v, v2, strict, seen)) continue outer;
      }
      return false;
    }
    return true;
  }
  if (a instanceof Set) {
    const sb = b as Set<unknown>;
    if (a.size !== sb.size) return false;
    outer: for (const v of a) {
      if (sb.has(v)) continue;
      for (const v2 of sb) if (equals(v, v2, strict, seen)) continue outer;
      return false;
    }
    return true;
  }
  if (Array.isArray(a)) {
    const arrB = b as unknown[];
    if (strict) {
      if (a.length !== arrB.length) return false;
      for (let i = 0; i < a.length; i++) {
        if ((i in a) !== (i in arrB)) return false;
        if (!equals(a[i], arrB[i], strict, seen)) return false;
      }
    } else {
      const len = Math.max(a.length, arrB.length);
      for (let i = 0; i < len; i++) if (!equals(a[i], arrB[i], strict, seen)) return false;
    }
    return true;
  }

  // Generic objects (plain objects, class instances, errors' extra props, boxed primitives' props).
  const ra = a as Record<PropertyKey, unknown>;
  const rb = b as Record<PropertyKey, unknown>;
  const keysA = ownKeys(a);
  const keysB = ownKeys(b);
  if (strict) {
    if (keysA.length !== keysB.length) return false;
    for (const k of keysA) {
      if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
      if (!equals(ra[k], rb[k], strict, seen)) return false;
    }
    return true;
  }
  const defined = (obj: Record<PropertyKey, unknown>, keys: PropertyKey[]) => keys.filter((k) => obj[k] !== undefined);
  const defA = defined(ra, keysA);
  const defB = new Set(defined(rb, keysB));
  if (defA.length !== defB.size) return false;
  for (const k of defA) {
    if (!defB.has(k)) return false;
    if (!equals(ra[k], rb[k], strict, seen)) return false;
  }
  return true;
}

function isSpecialObject(v: object): boolean {
  return v instanceof Date || v instanceof RegExp || v instanceof Map || v instanceof Set ||
    v instanceof Error || ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

/** toMatchObject semantics: every property of `subset` is present (deeply) in `obj`. */
export function matchesSubset(obj: unknown, subset: unknown, seen: Array<[unknown, unknown]> = []): boolean {
  if (subset instanceof AsymmetricMatcher) return subset.asymmetricMatch(obj);
  if (typeof subset !== "object" || subset === null || typeof obj !== "object" || obj === null) {
    return equals(obj, subset, false);
  }
  if (Array.isArray(subset)) {
    if (!Array.isArray(obj) || obj.length !== subset.length) return false;
    return subset.every((item, i) => matchesSubset(obj[i], item, seen));
  }
  if (isSpecialObject(subset)) return equals(obj, subset, false);
  for (const [x, y] of seen) if (x === obj && y === subset) return true;
  seen.push([obj, subset]);
  try {
    for (const key of ownKeys(subset)) {
      if (!hasProperty(obj, key)) return false;
      const want = (subset as Record<PropertyKey, unknown>)[key];
      const got = (obj as Record<PropertyKey, unknown>)[key];
      if (!matchesSubset(got, want, seen)) return false;
    }
    return true;
  } finally {
    seen.pop();
  }
}

// ---------------------------------------------------------------------------
// Matcher implementations

interface MatcherContext {
  readonly isNot: boolean;
  /** "" for a plain expect(), or "resolves"/"rejects" when unwrapping a promise. */
  readonly promise: "" | "resolves" | "rejects";
}

interface MatcherResult {
  pass: boolean;
  message: () => string;
}

type MatcherImpl = (this: MatcherContext, received: unknown, ...args: unknown[]) => MatcherResult;

function header(ctx: MatcherContext, name: string, args = "expected"): string {
  const chain = [ctx.promise, ctx.isNot ? "not" : ""].filter(Boolean).map((s) => `.${s}`).join("");
  return `expect(received)${chain}.${name}(${args})\n\n`;
}

function expectedReceived(ctx: MatcherContext, name: string, expected: unknown, received: unknown): string {
  return header(ctx, name) + `Expected: ${ctx.isNot ? "not " : ""}${fmt(expected)}\nReceived: ${fmt(received)}`;
}

function diffMessage(ctx: MatcherContext, name: string, expected: unknown, received: unknown): string {
  if (!ctx.isNot) {
    const diff = lineDiff(fmt(expected), fmt(received));
    if (diff !== null) return header(ctx, name) + diff;
  }
  return expectedReceived(ctx, name, expected, received);
}

function requireNumeric(name: string, value: unknown, what: string): asserts value is number | bigint {
  if (typeof value !== "number" && typeof value !== "bigint") {
    throw new MatcherUsageError(`${name}: ${what} value must be a number or bigint, got ${fmt(value)}`);
  }
}

function compare(name: string, op: string, test: (a: number | bigint, b: number | bigint) => boolean): MatcherImpl {
  return function (this: MatcherContext, received, expected) {
    requireNumeric(name, received, "received");
    requireNumeric(name, expected, "expected");
    return {
      pass: test(received, expected),
      message: () =>
        header(this, name) +
        `Expected: ${this.isNot ? "not " : ""}${op} ${fmt(expected)}\nReceived: ${fmt(received)}`,
    };
  };
}

function simple(name: string, test: (received: unknown) => boolean, describe: string): MatcherImpl {
  return function (this: MatcherContext, received) {
    return {
      pass: test(received),
      message: () => header(this, name, "") + `Expected value ${this.isNot ? "not " : ""}to be ${describe}\nReceived: ${fmt(received)}`,
    };
  };
}

function messageOf(thrown: unknown): string {
  if (typeof thrown === "object" && thrown !== null && typeof (thrown as { message?: unknown }).message === "string") {
    return (thrown as { message: string }).message;
  }
  return String(thrown);
}

function parsePath(path: unknown): PropertyKey[] {
  if (Array.isArray(path)) return path as PropertyKey[];
  if (typeof path !== "string") throw new MatcherUsageError(`toHaveProperty: path must be a string or array, got ${fmt(path)}`);
  return path.match(/[^.[\]]+/g) ?? [];
}

const matcherImpls: Record<string, MatcherImpl> = {
  toBe(received, expected) {
    return {
      pass: Object.is(received, expected),
      message: () => {
        const base = expectedReceived(this, "toBe", expected, received);
        if (!this.isNot && typeof received === "object" && received !== null && equals(received, expected, true)) {
          return base + "\n\nIf it should pass with deep equality, use toEqual/toStrictEqual (values are deeply equal but not the same reference).";
        }
        return base;
      },
    };
  },
  toEqual(received, expected) {
    return { pass: equals(received, expected, false), message: () => diffMessage(this, "toEqual", expected, received) };
  },
  toStrictEqual(received, expected) {
    return { pass: equals(received, expected, true), message: () => diffMessage(this, "toStrictEqual", expected, received) };
  },
  toMatchObject(received, expected) {
    if (typeof received !== "object" || received === null) {
      throw new MatcherUsageError(`toMatchObject: received value must be a non-null object, got ${fmt(received)}`);
    }
    if (typeof expected !== "object" || expected === null) {
      throw new MatcherUsageError(`toMatchObject: expected value must be a non-null object, got ${fmt(expected)}`);
    }
    return { pass: matchesSubset(received, expected), message: () => diffMessage(this, "toMatchObject", expected, received) };
  },
  toBeTruthy: simple("toBeTruthy", (v) => !!v, "truthy"),
  toBeFalsy: simple("toBeFalsy", (v) => !v, "falsy"),
  toBeDefined: simple("toBeDefined", (v) => v !== undefined, "defined"),
  toBeUndefined: simple("toBeUndefined", (v) => v === undefined, "undefined"),
  toBeNull: simple("toBeNull", (v) => v === null, "null"),
  toBeNaN: simple("toBeNaN", (v) => typeof v === "number" && Number.isNaN(v), "NaN"),
  toBeGreaterThan: compare("toBeGreaterThan", ">", (a, b) => a > b),
  toBeGreaterThanOrEqual: compare("toBeGreaterThanOrEqual", ">=", (a, b) => a >= b),
  toBeLessThan: compare("toBeLessThan", "<", (a, b) => a < b),
  toBeLessThanOrEqual: compare("toBeLessThanOrEqual", "<=", (a, b) => a <= b),
  toBeCloseTo(received, expected, precision = 2) {
    if (typeof received !== "number" || typeof expected !== "number") {
      throw new MatcherUsageError(`toBeCloseTo: received and expected must be numbers, got ${fmt(received)} and ${fmt(expected)}`);
    }
    const digits = Number(precision);
    const pass = received === Infinity && expected === Infinity ||
      received === -Infinity && expected === -Infinity ||
      Math.abs(expected - received) < 10 ** -digits / 2;
    return {
      pass,
      message: () =>
        header(this, "toBeCloseTo", "expected, precision") +
        `Expected: ${this.isNot ? "not " : ""}${fmt(expected)} (precision ${digits}, |diff| < ${10 ** -digits / 2})\n` +
        `Received: ${fmt(received)} (|diff| = ${Math.abs(expected - received)})`,
    };
  },
  toContain(received, expected) {
    let pass: boolean;
    if (typeof received === "string") {
      if (typeof expected !== "string") {
        throw new MatcherUsageError(`toContain: expected must be a string when received is a string, got ${fmt(expected)}`);
      }
      pass = received.includes(expected);
    } else if (received !== null && received !== undefined && typeof (received as Iterable<unknown>)[Symbol.iterator] === "function") {
      pass = false;
      for (const item of received as Iterable<unknown>) {
        if (item === expected || (Number.isNaN(item) && Number.isNaN(expected))) {
          pass = true;
          break;
        }
      }
    } else {
      throw new MatcherUsageError(`toContain: received value must be a string or iterable, got ${fmt(received)}`);
    }
    return {
      pass,
      message: () => header(this, "toContain") + `Expected to ${this.isNot ? "not " : ""}contain: ${fmt(expected)}\nReceived: ${fmt(received)}`,
    };
  },
  toContainEqual(received, expected) {
    if (received === null || received === undefined || typeof (received as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw new MatcherUsageError(`toContainEqual: received value must be iterable, got ${fmt(received)}`);
    }
    let pass = false;
    for (const item of received as Iterable<unknown>) {
      if (equals(item, expected, false)) {
        pass = true;
        break;
      }
    }
    return {
      pass,
      message: () => header(this, "toContainEqual") + `Expected to ${this.isNot ? "not " : ""}contain equal: ${fmt(expected)}\nReceived: ${fmt(received)}`,
    };
  },
  toHaveLength(received, expected) {
    const length = received === null || received === undefined ? undefined : (received as { length?: unknown }).length;
    if (typeof length !== "number") {
      throw new MatcherUsageError(`toHaveLength: received value must have a numeric length property, got ${fmt(received)}`);
    }
    return {
      pass: length === expected,
      message: () =>
        header(this, "toHaveLength") +
        `Expected length: ${this.isNot ? "not " : ""}${fmt(expected)}\nReceived length: ${length}\nReceived: ${fmt(received)}`,
    };
  },
  toHaveProperty(received, ...args) {
    const [path, value] = args;
    const checkValue = args.length > 1;
    const keys = parsePath(path);
    let current: unknown = received;
    let found = true;
    for (const key of keys) {
      if (!hasProperty(current, key)) {
        found = false;
        break;
      }
      current = (current as Record<PropertyKey, unknown>)[key];
    }
    const pass = found && (!checkValue || equals(current, value, false));
    return {
      pass,
      message: () =>
        header(this, "toHaveProperty", checkValue ? "path, value" : "path") +
        `Expected path: ${this.isNot ? "not " : ""}${fmt(path)}\n` +
        (checkValue ? `Expected value: ${fmt(value)}\n` : "") +
        (found ? `Received value: ${fmt(current)}\n` : "Received path: not found\n") +
        `Received: ${fmt(received)}`,
    };
  },
  toBeInstanceOf(received, expected) {
    if (typeof expected !== "function") {
      throw new MatcherUsageError(`toBeInstanceOf: expected must be a constructor, got ${fmt(expected)}`);
    }
    const ctorName = (v: unknown) =>
      v === null || v === undefined ? String(v) : (Object.getPrototypeOf(Object(v))?.constructor?.name ?? "Object");
    return {
      pass: received instanceof (expected as Constructor),
      message: () =>
        header(this, "toBeInstanceOf") +
        `Expected constructor: ${this.isNot ? "not " : ""}${(expected as { name?: string }).name || "(anonymous)"}\n` +
        `Received constructor: ${ctorName(received)}\nReceived: ${fmt(received)}`,
    };
  },
  toMatch(received, expected) {
    if (typeof received !== "string") {
      throw new MatcherUsageError(`toMatch: received value must be a string, got ${fmt(received)}`);
    }
    if (typeof expected !== "string" && !(expected instanceof RegExp)) {
      throw new MatcherUsageError(`toMatch: expected must be a string or RegExp, got ${fmt(expected)}`);
    }
    const pass = typeof expected === "string" ? received.includes(expected) : received.match(expected) !== null;
    return {
      pass,
      message: () =>
        header(this, "toMatch") +
        `Expected ${typeof expected === "string" ? "substring" : "pattern"}: ${this.isNot ? "not " : ""}${fmt(expected)}\nReceived: ${fmt(received)}`,
    };
  },
  toBeTypeOf(received, expected) {
    const actualType: string = typeof received;
    return {
      pass: actualType === expected,
      message: () => header(this, "toBeTypeOf") + `Expected type: ${this.isNot ? "not " : ""}${fmt(expected)}\nReceived type: ${actualType}\nReceived: ${fmt(received)}`,
    };
  },
  toThrow(received, ...args) {
    const expected = args[0];
    let thrown: { value: unknown } | null = null;
    if (this.promise !== "") {
      thrown = { value: received }; // .rejects.toThrow(): the rejection reason is "what was thrown"
    } else {
      if (typeof received !== "function") {
        throw new MatcherUsageError(`toThrow: received value must be a function, got ${fmt(received)}`);
      }
      try {
        (received as () => unknown)();
      } catch (e) {
        thrown = { value: e };
      }
    }
    let pass: boolean;
    let wanted: string;
    if (args.length === 0 || expected === undefined) {
      pass = thrown !== null;
      wanted = "a thrown error";
    } else if (typeof expected === "string") {
      pass = thrown !== null && messageOf(thrown.value).includes(expected);
      wanted = `error message containing ${fmt(expected)}`;
    } else if (expected instanceof RegExp) {
      pass = thrown !== null && messageOf(thrown.value).match(expected) !== null;
      wanted = `error message matching ${String(expected)}`;
    } else if (expected instanceof AsymmetricMatcher) {
      pass = thrown !== null && expected.asymmetricMatch(thrown.value);
      wanted = `error matching ${expected.toString()}`;
    } else if (typeof expected === "function") {
      pass = thrown !== null && thrown.value instanceof (expected as Constructor);
      wanted = `error of class ${(expected as { name?: string }).name || "(anonymous)"}`;
    } else if (typeof expected === "object" && expected !== null && "message" in expected) {
      pass = thrown !== null && messageOf(thrown.value) === String((expected as { message: unknown }).message);
      wanted = `error with message ${fmt((expected as { message: unknown }).message)}`;
    } else {
      throw new MatcherUsageError(`toThrow: expected must be a string, RegExp, Error class or error object, got ${fmt(expected)}`);
    }
    return {
      pass,
      message: () =>
        header(this, "toThrow", args.length === 0 ? "" : "expected") +
        `Expected: ${this.isNot ? "not " : ""}${wanted}\n` +
        (thrown === null ? "Received function did not throw" : `Received thrown value: ${fmt(thrown.value)}`),
    };
  },
};
matcherImpls.toThrowError = matcherImpls.toThrow;

// ---------------------------------------------------------------------------
// Public types

/** Matchers; R is `void` for plain expect() and `Promise<void>` after .resolves/.rejects. */
export interface Matchers<R = void> {
  readonly not: Matchers<R>;
  toBe(expected: unknown): R;
  toEqual(expected: unknown): R;
  toStrictEqual(expected: unknown): R;
  toMatchObject(expected: object): R;
  toBeTruthy(): R;
  toBeFalsy(): R;
  toBeDefined(): R;
  toBeUndefined(): R;
  toBeNull(): R;
  toBeNaN(): R;
  toBeGreaterThan(expected: number | bigint): R;
  toBeGreaterThanOrEqual(expected: number | bigint): R;
  toBeLessThan(expected: number | bigint): R;
  toBeLessThanOrEqual(expected: number | bigint): R;
  toBeCloseTo(expected: number, numDigits?: number): R;
  toContain(expected: unknown): R;
  toContainEqual(expected: unknown): R;
  toHaveLength(expected: number): R;
  toHaveProperty(path: string | PropertyKey[], value?: unknown): R;
  toBeInstanceOf(expected: Constructor | ((...args: never[]) => unknown)): R;
  toMatch(expected: string | RegExp): R;
  toBeTypeOf(expected: "string" | "number" | "bigint" | "boolean" | "symbol" | "undefined" | "object" | "function"): R;
  toThrow(expected?: string | RegExp | Error | Constructor | AsymmetricMatcher): R;
  toThrowError(expected?: string | RegExp | Error | Constructor | AsymmetricMatcher): R;
}

// T mirrors bun's `expect<T>(actual: T)` signature; matchers accept `unknown` so it is unused.
export interface ExpectResult<T = unknown> extends Matchers<void> {
  /** Await the received promise, then apply the matcher to its value. */
  readonly resolves: Matchers<Promise<void>>;
  /** Await the received promise, expect it to reject, then apply the matcher to the reason. */
  readonly rejects: Matchers<Promise<void>>;
}

export interface Expect {
  <T = unknown>(actual?: T): ExpectResult<T>;
  any(ctor: Constructor | ((...args: never[]) => unknown)): AsymmetricMatcher;
  anything(): AsymmetricMatcher;
  stringContaining(sub: string): AsymmetricMatcher;
  stringMatching(pattern: string | RegExp): AsymmetricMatcher;
  objectContaining(sample: object): AsymmetricMatcher;
  arrayContaining(sample: readonly unknown[]): AsymmetricMatcher;
  /** Fails the test immediately. */
  unreachable(message?: string): never;
}

// ---------------------------------------------------------------------------
// Wiring

function buildMatchers(received: unknown, isNot: boolean): Matchers<void> {
  const ctx: MatcherContext = { isNot, promise: "" };
  const out: Record<string, unknown> = {};
  for (const [name, impl] of Object.entries(matcherImpls)) {
    const fn = function (...args: unknown[]): void {
      const result = impl.call(ctx, received, ...args);
      if (result.pass === isNot) {
        const err = new ExpectationError(result.message());
        Error.captureStackTrace?.(err, fn);
        throw err;
      }
    };
    out[name] = fn;
  }
  Object.defineProperty(out, "not", { get: () => buildMatchers(received, !isNot), enumerable: false });
  return out as unknown as Matchers<void>;
}

function buildAsyncMatchers(received: unknown, mode: "resolves" | "rejects", isNot: boolean): Matchers<Promise<void>> {
  const ctx: MatcherContext = { isNot, promise: mode };
  const out: Record<string, unknown> = {};
  for (const [name, impl] of Object.entries(matcherImpls)) {
    out[name] = async (...args: unknown[]): Promise<void> => {
      // Created synchronously so the stack points at the test line, not at a microtask.
      const err = new ExpectationError("");
      const thenable = received as PromiseLike<unknown> | null | undefined;
      if (thenable === null || thenable === undefined || typeof thenable.then !== "function") {
        throw new MatcherUsageError(`expect(received).${mode}.${name}(): received value must be a promise, got ${fmt(received)}`);
      }
      let value: unknown;
      let rejected = false;
      try {
        value = await thenable;
      } catch (e) {
        value = e;
        rejected = true;
      }
      if (mode === "resolves" && rejected) {
        err.message = `expect(received).resolves.${name}()\n\nReceived promise rejected instead of resolved\nRejection reason: ${fmt(value)}`;
        throw err;
      }
      if (mode === "rejects" && !rejected) {
        err.message = `expect(received).rejects.${name}()\n\nReceived promise resolved instead of rejected\nResolved to value: ${fmt(value)}`;
        throw err;
      }
      const result = impl.call(ctx, value, ...args);
      if (result.pass === isNot) {
        err.message = result.message();
        throw err;
      }
    };
  }
  Object.defineProperty(out, "not", { get: () => buildAsyncMatchers(received, mode, !isNot), enumerable: false });
  return out as unknown as Matchers<Promise<void>>;
}

function expectImpl<T = unknown>(actual?: T): ExpectResult<T> {
  const matchers = buildMatchers(actual, false) as unknown as ExpectResult<T>;
  Object.defineProperty(matchers, "resolves", { get: () => buildAsyncMatchers(actual, "resolves", false) });
  Object.defineProperty(matchers, "rejects", { get: () => buildAsyncMatchers(actual, "rejects", false) });
  return matchers;
}

export const expect: Expect = Object.assign(expectImpl, {
  any: (ctor: Constructor | ((...args: never[]) => unknown)): AsymmetricMatcher => new Any(ctor as Constructor),
  anything: (): AsymmetricMatcher => new Anything(),
  stringContaining: (sub: string): AsymmetricMatcher => new StringContaining(sub),
  stringMatching: (pattern: string | RegExp): AsymmetricMatcher => new StringMatching(pattern),
  objectContaining: (sample: object): AsymmetricMatcher => new ObjectContaining(sample),
  arrayContaining: (sample: readonly unknown[]): AsymmetricMatcher => new ArrayContaining(sample),
  unreachable: (message?: string): never => {
    const err = new ExpectationError(message ?? "expect.unreachable(): reached unreachable code");
    throw err;
  },
});
