/**
 * `bun:test` for Deno and Node.
 *
 * The conformance suite is written against the `bun:test` API. Under Bun the
 * specifier resolves to Bun's builtin module and this file is never loaded.
 * Under Deno, deno.json maps `bun:test` here; under Node, the resolve hook in
 * tests/shim/node_hooks.mjs (installed by tests/shim/node_register.mjs) does.
 *
 * Tests and hooks are registered with `node:test`, which both Node and Deno 2
 * implement (nested describe/it, before/after/beforeEach/afterEach, timeouts).
 * `expect` is implemented from scratch in ./expect.ts.
 *
 * Note: Bun's test runner also picks up files named `*_test.ts`, so `bun test
 * tests/` loads this file as a (test-less) test file. It registers nothing at
 * import time, so that is harmless.
 */
import * as nodeTest from "node:test";

export { expect } from "./expect.ts";
export type { Expect, ExpectResult, Matchers } from "./expect.ts";

/**
 * Per-test timeout when none is given. Bun's default is 5s, but bunfig.toml sets
 * `[test] timeout = 20000` for this repo; mirror that so all runtimes agree
 * (node:test's own default is no timeout at all).
 */
let defaultTimeout = 20_000;

/** Same as bun:test's setDefaultTimeout: applies to tests/hooks registered afterwards. */
export function setDefaultTimeout(ms: number): void {
  defaultTimeout = ms;
}

/**
 * A test or hook body: sync, async, or Jest/Bun-style `done` callback (a body
 * that declares a parameter receives `done` and must call it).
 */
export type TestFn = (done: (err?: unknown) => void) => unknown;

/** Third argument of test(): a timeout in ms, or bun's options object. */
export type TestOptions = number | { timeout?: number };

type NodeTestOptions = {
  timeout?: number;
  skip?: boolean | string;
  todo?: boolean | string;
  only?: boolean;
};

function timeoutOf(options: TestOptions | undefined): number {
  if (typeof options === "number") return options;
  return options?.timeout ?? defaultTimeout;
}

/**
 * Deno's node:test polyfill installs global "error"/"unhandledrejection"
 * handlers that swallow uncaught errors: an unhandled rejection or a throw in a
 * timer during a test, or even a throw at the top level of a test module, does
 * not fail anything (see denoland/deno#33749, #34818). Record such errors
 * ourselves and fail the test during which (or after which) they surfaced.
 * Node's and Bun's runners already attribute these errors to tests.
 */
const strayErrors: unknown[] = [];
if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") {
  globalThis.addEventListener("unhandledrejection", (event: Event) => {
    strayErrors.push((event as PromiseRejectionEvent).reason);
  });
  globalThis.addEventListener("error", (event: Event) => {
    const e = event as ErrorEvent;
    strayErrors.push(e.error ?? new Error(e.message));
  });
}

function takeStrayErrors(context: string): Error | null {
  if (strayErrors.length === 0) return null;
  const errors = strayErrors.splice(0);
  const first = errors[0];
  const detail = first instanceof Error ? first.stack ?? first.message : String(first);
  const err = new Error(
    `${errors.length} uncaught error(s) / unhandled rejection(s) ${context}. First:\n${detail}`,
  );
  (err as { cause?: unknown }).cause = errors.length === 1 ? first : new AggregateError(errors);
  return err;
}

/** Let pending unhandled-rejection / error events fire while the test still counts as running. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function invoke(fn: TestFn): Promise<void> {
  if (fn.length === 0) {
    await (fn as () => unknown)();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => (err === undefined || err === null ? resolve() : reject(err));
    try {
      const ret = fn(done);
      if (ret && typeof (ret as PromiseLike<unknown>).then === "function") {
        (ret as PromiseLike<unknown>).then(undefined, reject);
      }
    } catch (e) {
      reject(e);
    }
  });
}

/** Adapt a bun-style body to node:test: never pass node's TestContext, support `done`. */
function wrap(fn: TestFn): () => Promise<void> {
  return async () => {
    const earlier = takeStrayErrors("outside of any test (before this one started)");
    try {
      await invoke(fn);
    } finally {
      await settle();
    }
    if (earlier) throw earlier;
    const during = takeStrayErrors("while this test was running");
    if (during) throw during;
  };
}

const noop = (): void => {};

function register(name: string, fn: TestFn | undefined, options: TestOptions | undefined, extra: NodeTestOptions): void {
  const opts: NodeTestOptions = { timeout: timeoutOf(options), ...extra };
  // `it` and `test` are the same in node:test; `it` reads better inside describe
  // and both Node and Deno accept it at the top level of a file.
  nodeTest.it(name, opts, fn && !extra.skip && !extra.todo ? wrap(fn) : noop);
}

// ---------------------------------------------------------------------------
// test / it

type EachRow = readonly unknown[] | Record<string, unknown> | unknown;

export interface TestFunction {
  (name: string, fn: TestFn, options?: TestOptions): void;
  /** Registered but not run. */
  skip(name: string, fn?: TestFn, options?: TestOptions): void;
  /** Marked as todo and not run (like bun without --todo). */
  todo(name: string, fn?: TestFn, options?: TestOptions): void;
  /** node:test semantics: only honoured with `node --test-only`; Deno fails the run when used. */
  only(name: string, fn: TestFn, options?: TestOptions): void;
  /** Run the test only if `condition` is truthy; otherwise skip it. */
  if(condition: unknown): (name: string, fn: TestFn, options?: TestOptions) => void;
  /** Skip the test if `condition` is truthy. */
  skipIf(condition: unknown): (name: string, fn: TestFn, options?: TestOptions) => void;
  /** Mark the test todo if `condition` is truthy. */
  todoIf(condition: unknown): (name: string, fn: TestFn, options?: TestOptions) => void;
  /** Parameterised tests: rows that are arrays are spread into the body's arguments. */
  each<Row extends EachRow>(
    table: readonly Row[],
  ): (name: string, fn: (...args: Row extends readonly unknown[] ? Row : [Row]) => unknown, options?: TestOptions) => void;
}

/** printf-ish title formatting used by bun/jest `.each`. */
function formatEachTitle(title: string, row: EachRow, index: number): string {
  const args = Array.isArray(row) ? [...row] : [row];
  let out = title.replace(/%[sdifjop#%]/g, (token) => {
    if (token === "%%") return "%";
    if (token === "%#") return String(index);
    if (args.length === 0) return token;
    const v = args.shift();
    switch (token) {
      case "%d":
      case "%i":
        return typeof v === "bigint" ? `${v}` : String(token === "%i" ? Math.trunc(Number(v)) : Number(v));
      case "%f":
        return String(Number(v));
      case "%j":
        return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
      case "%s":
        return typeof v === "bigint" ? `${v}n` : String(v);
      default:
        return typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v}n` : String(v);
    }
  });
  if (!Array.isArray(row) && typeof row === "object" && row !== null) {
    out = out.replace(/\$([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)/g, (match, path: string) => {
      let v: unknown = row;
      for (const key of path.split(".")) {
        if (v === null || v === undefined) return match;
        v = (v as Record<string, unknown>)[key];
      }
      return typeof v === "string" ? v : typeof v === "bigint" ? `${v}n` : JSON.stringify(v) ?? String(v);
    });
  }
  return out;
}

function makeTest(): TestFunction {
  const base = (name: string, fn: TestFn, options?: TestOptions): void => register(name, fn, options, {});
  const skip = (name: string, fn?: TestFn, options?: TestOptions): void => register(name, fn, options, { skip: true });
  const todo = (name: string, fn?: TestFn, options?: TestOptions): void => register(name, fn, options, { todo: true });
  const only = (name: string, fn: TestFn, options?: TestOptions): void => register(name, fn, options, { only: true });
  return Object.assign(base, {
    skip,
    todo,
    only,
    if: (condition: unknown) => (condition ? base : skip),
    skipIf: (condition: unknown) => (condition ? skip : base),
    todoIf: (condition: unknown) => (condition ? todo : base),
    each: <Row extends EachRow>(table: readonly Row[]) =>
    (
      name: string,
      fn: (...args: Row extends readonly unknown[] ? Row : [Row]) => unknown,
      options?: TestOptions,
    ): void => {
      table.forEach((row, i) => {
        const args = (Array.isArray(row) ? row : [row]) as Row extends readonly unknown[] ? Row : [Row];
        base(formatEachTitle(name, row, i), () => fn(...args), options);
      });
    },
  });
}

export const test: TestFunction = makeTest();
export const it: TestFunction = test;

// ---------------------------------------------------------------------------
// describe

export interface DescribeFunction {
  (name: string, fn: () => void): void;
  skip(name: string, fn: () => void): void;
  todo(name: string, fn?: () => void): void;
  /** node:test semantics, see test.only. */
  only(name: string, fn: () => void): void;
  if(condition: unknown): (name: string, fn: () => void) => void;
  skipIf(condition: unknown): (name: string, fn: () => void) => void;
  each<Row extends EachRow>(
    table: readonly Row[],
  ): (name: string, fn: (...args: Row extends readonly unknown[] ? Row : [Row]) => void) => void;
}

function makeDescribe(): DescribeFunction {
  const base = (name: string, fn: () => void): void => {
    nodeTest.describe(name, () => fn());
  };
  const skip = (name: string, fn: () => void): void => {
    nodeTest.describe(name, { skip: true }, () => fn());
  };
  const todo = (name: string, fn?: () => void): void => {
    nodeTest.describe(name, { todo: true }, fn ? () => fn() : noop);
  };
  const only = (name: string, fn: () => void): void => {
    nodeTest.describe(name, { only: true }, () => fn());
  };
  return Object.assign(base, {
    skip,
    todo,
    only,
    if: (condition: unknown) => (condition ? base : skip),
    skipIf: (condition: unknown) => (condition ? skip : base),
    each: <Row extends EachRow>(table: readonly Row[]) =>
    (name: string, fn: (...args: Row extends readonly unknown[] ? Row : [Row]) => void): void => {
      table.forEach((row, i) => {
        const args = (Array.isArray(row) ? row : [row]) as Row extends readonly unknown[] ? Row : [Row];
        base(formatEachTitle(name, row, i), () => fn(...args));
      });
    },
  });
}

export const describe: DescribeFunction = makeDescribe();

// ---------------------------------------------------------------------------
// hooks (at file top level they apply to every test in the file, as in bun)

export type HookFn = TestFn;

export function beforeAll(fn: HookFn, timeout?: number): void {
  nodeTest.before(wrap(fn), { timeout: timeout ?? defaultTimeout });
}

export function afterAll(fn: HookFn, timeout?: number): void {
  nodeTest.after(wrap(fn), { timeout: timeout ?? defaultTimeout });
}

export function beforeEach(fn: HookFn, timeout?: number): void {
  nodeTest.beforeEach(wrap(fn), { timeout: timeout ?? defaultTimeout });
}

export function afterEach(fn: HookFn, timeout?: number): void {
  nodeTest.afterEach(wrap(fn), { timeout: timeout ?? defaultTimeout });
}
