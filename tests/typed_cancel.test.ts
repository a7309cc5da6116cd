/**
 * Typed procedures, cancellation and failure in the middle of every stream shape: the
 * caller stops (break, cancel(), AbortSignal, a failing source, a timeout) and the
 * handler sees its signal abort and stops; the handler fails and the caller's loop throws.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { RpcError } from "../mod.ts";
import { bidi, clientStream, router, serverStream, unary } from "../src/typed/mod.ts";
import { sleep, until } from "./support/bytes.ts";
import { errorOf, Feed, type TypedPair, typedPair, within } from "./support/typed.ts";

/** What one handler run observed, by the tag its caller gave it. */
interface Probe {
  /** The code of ctx.signal's reason once it aborted. */
  aborted: string | null;
  /** The handler's body is over (its finally ran). */
  stopped: boolean;
  /** Items yielded (reply streams) or received (request streams). */
  items: unknown[];
  /** The code of the error the handler's input loop threw. */
  inputError: string | null;
}

const probes = new Map<string, Probe>();
function probe(tag: string, signal: AbortSignal): Probe {
  const p: Probe = { aborted: null, stopped: false, items: [], inputError: null };
  probes.set(tag, p);
  signal.addEventListener("abort", () => (p.aborted = (signal.reason as RpcError)?.code ?? String(signal.reason)));
  return p;
}
const codeOf = (error: unknown) => (error instanceof RpcError ? error.code : String(error));

const routes = router({
  // Counts up every few ms until the caller goes away.
  forever: serverStream({ input: v.string(), output: v.number() }, async function* (tag, ctx) {
    const p = probe(tag, ctx.signal);
    try {
      for (let i = 0; !ctx.signal.aborted; i++) {
        p.items.push(i);
        yield i;
        await sleep(2);
      }
    } finally {
      p.stopped = true;
    }
  }),
  // Waits for its signal (at most 5 s).
  wait: unary({ input: v.string(), output: v.string() }, (tag, ctx) => {
    const p = probe(tag, ctx.signal);
    return new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("woke"), 5000);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        p.stopped = true;
        resolve("aborted");
      });
    });
  }),
  // Reads items until its input fails; the tag travels in metadata.
  drain: clientStream({ input: v.number(), output: v.number() }, async (inputs, ctx) => {
    const p = probe(String(ctx.metadata["tag"]), ctx.signal);
    try {
      for await (const n of inputs) p.items.push(n);
    } catch (error) {
      p.inputError = codeOf(error);
      throw error;
    } finally {
      p.stopped = true;
    }
    return p.items.length;
  }),
  echo: bidi({ input: v.number(), output: v.number() }, async function* (inputs, ctx) {
    const p = probe(String(ctx.metadata["tag"]), ctx.signal);
    try {
      for await (const n of inputs) {
        p.items.push(n);
        if (n < 0) throw new RpcError("aborted", `server gave up at ${n}`);
        yield n;
      }
    } catch (error) {
      p.inputError = codeOf(error);
      throw error;
    } finally {
      p.stopped = true;
    }
  }),
  ok: unary({ input: v.optional(v.undefined()), output: v.string() }, () => "ok"),
});

let t: TypedPair<typeof routes>;

beforeAll(async () => {
  t = await typedPair(routes);
});
afterAll(() => t.close());

async function stopped(tag: string): Promise<Probe> {
  await until(() => probes.get(tag)?.stopped === true, 2000, `handler "${tag}" to stop`);
  return probes.get(tag)!;
}

async function stillServes(): Promise<void> {
  expect(await within(t.api.ok(), 2000, "the next call")).toBe("ok");
}

describe("the caller stops a server stream", () => {
  test("break out of for await: the handler's signal aborts with cancelled and the generator stops", async () => {
    const got: number[] = [];
    await within((async () => {
      for await (const n of t.api.forever("break")) {
        got.push(n);
        if (n === 3) break;
      }
    })(), 2000, "the loop");
    expect(got).toEqual([0, 1, 2, 3]);
    const p = await stopped("break");
    expect(p.aborted).toBe("cancelled");
    const yielded = p.items.length;
    await sleep(30);
    expect(p.items.length).toBe(yielded); // nothing more after it stopped
    await stillServes();
  });

  test("cancel(): the loop throws cancelled, the handler aborts and stops", async () => {
    const reply = t.api.forever("cancel");
    const got: number[] = [];
    const error = await errorOf(async () => {
      for await (const n of reply) {
        got.push(n);
        if (n === 2) reply.cancel(new Error("enough"));
      }
    });
    expect(error.code).toBe("cancelled");
    expect(got).toEqual([0, 1, 2]);
    const p = await stopped("cancel");
    expect(p.aborted).toBe("cancelled");
    await stillServes();
  });

  test("an AbortSignal: the loop throws cancelled, the handler aborts and stops", async () => {
    const controller = new AbortController();
    const got: number[] = [];
    const error = await errorOf(async () => {
      for await (const n of t.api.forever("signal", { signal: controller.signal })) {
        got.push(n);
        if (n === 1) controller.abort();
      }
    });
    expect(error.code).toBe("cancelled");
    expect(got).toEqual([0, 1]);
    expect((await stopped("signal")).aborted).toBe("cancelled");
    await stillServes();
  });

  test("cancelling .readable cancels the call", async () => {
    const reader = t.api.forever("readable").readable.getReader();
    expect((await within(reader.read(), 2000, "read")).value).toBe(0);
    await within(reader.cancel("done reading"), 2000, "reader.cancel");
    expect((await stopped("readable")).aborted).toBe("cancelled");
    await stillServes();
  });

  test("a timeout in the middle of the stream: deadline_exceeded on both sides", async () => {
    const got: number[] = [];
    const error = await errorOf(async () => {
      for await (const n of t.api.forever("timeout", { timeout: 200 })) got.push(n);
    });
    expect(error.code).toBe("deadline_exceeded");
    expect(got.length).toBeGreaterThan(0);
    expect((await stopped("timeout")).aborted).toBe("deadline_exceeded");
    await stillServes();
  });
});

describe("the caller stops a unary call", () => {
  test("cancel(): the call rejects with cancelled, the handler's signal aborts", async () => {
    const call = t.api.wait("unary-cancel");
    await until(() => probes.has("unary-cancel"), 2000, "handler to start");
    call.cancel();
    expect((await errorOf(() => call)).code).toBe("cancelled");
    expect((await stopped("unary-cancel")).aborted).toBe("cancelled");
  });

  test("an AbortSignal", async () => {
    const controller = new AbortController();
    const call = t.api.wait("unary-signal", { signal: controller.signal });
    await until(() => probes.has("unary-signal"), 2000, "handler to start");
    controller.abort();
    expect((await errorOf(() => call)).code).toBe("cancelled");
    expect((await stopped("unary-signal")).aborted).toBe("cancelled");
  });

  test("a timeout: deadline_exceeded, and the handler's signal aborts with deadline_exceeded", async () => {
    const started = Date.now();
    const error = await errorOf(() => t.api.wait("unary-timeout", { timeout: 60 }));
    expect(error.code).toBe("deadline_exceeded");
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await stopped("unary-timeout")).aborted).toBe("deadline_exceeded");
    await stillServes();
  });
});

describe("the caller stops a client stream", () => {
  test("a source that throws midway: the handler's input loop fails with cancelled", async () => {
    const failure = new Error("disk on fire");
    async function* source() {
      yield 1;
      yield 2;
      await until(() => probes.get("throws")?.items.length === 2, 2000, "two items handled");
      throw failure;
    }
    const error = await errorOf(() => t.api.drain(source(), { metadata: { tag: "throws" } }));
    expect(error.code).toBe("cancelled");
    expect(error.cause).toBe(failure);
    const p = await stopped("throws");
    expect(p.items).toEqual([1, 2]);
    expect(p.inputError).toBe("cancelled");
    expect(p.aborted).toBe("cancelled");
    await stillServes();
  });

  test("cancel() midway: the handler's input loop fails with cancelled, the source is stopped", async () => {
    const source = new Feed<number>();
    const call = t.api.drain(source, { metadata: { tag: "cs-cancel" } });
    source.push(1);
    await until(() => probes.get("cs-cancel")?.items.length === 1, 2000, "the first item");
    call.cancel();
    expect((await errorOf(() => call)).code).toBe("cancelled");
    const p = await stopped("cs-cancel");
    expect(p.inputError).toBe("cancelled");
    // The source is asked to stop once it offers its next item, which is not sent.
    source.push(2);
    await until(() => source.stopped, 2000, "the source to stop");
    expect(p.items).toEqual([1]);
  });
});

describe("bidi, stopped from either end", () => {
  test("the caller cancels midway: the handler's input loop fails with cancelled and it stops", async () => {
    const source = new Feed<number>();
    const reply = t.api.echo(source, { metadata: { tag: "bidi-client" } });
    const got: number[] = [];
    const error = await errorOf(async () => {
      source.push(1);
      for await (const n of reply) {
        got.push(n);
        if (n === 2) reply.cancel();
        else source.push(n + 1);
      }
    });
    expect(error.code).toBe("cancelled");
    expect(got).toEqual([1, 2]);
    const p = await stopped("bidi-client");
    expect(p.aborted).toBe("cancelled");
    expect(p.inputError).toBe("cancelled");
    source.push(3);
    await until(() => source.stopped, 2000, "the source to stop");
    expect(p.items).toEqual([1, 2]);
    await stillServes();
  });

  test("the caller breaks out of its loop: same, through the iterator's return", async () => {
    const source = new Feed<number>();
    const got: number[] = [];
    source.push(10);
    await within((async () => {
      for await (const n of t.api.echo(source, { metadata: { tag: "bidi-break" } })) {
        got.push(n);
        if (n === 11) break;
        source.push(n + 1);
      }
    })(), 2000, "the loop");
    expect(got).toEqual([10, 11]);
    const p = await stopped("bidi-break");
    expect(p.aborted).toBe("cancelled");
  });

  test("the handler fails midway: the caller's loop throws its code after the earlier replies; the source is stopped", async () => {
    const source = new Feed<number>();
    const got: number[] = [];
    const error = await errorOf(async () => {
      source.push(1);
      for await (const n of t.api.echo(source, { metadata: { tag: "bidi-server" } })) {
        got.push(n);
        source.push(n === 2 ? -1 : n + 1);
      }
    });
    expect(got).toEqual([1, 2]);
    expect(error.code).toBe("aborted");
    expect(error.message).toBe("server gave up at -1");
    expect((await stopped("bidi-server")).items).toEqual([1, 2, -1]);
    source.push(99);
    await until(() => source.stopped, 2000, "the source to stop");
    await stillServes();
  });

  test("a timeout in the middle of a bidi call: deadline_exceeded on both sides", async () => {
    const source = new Feed<number>();
    const got: number[] = [];
    const error = await errorOf(async () => {
      source.push(1);
      for await (const n of t.api.echo(source, { metadata: { tag: "bidi-timeout" }, timeout: 300 })) got.push(n);
    });
    expect(error.code).toBe("deadline_exceeded");
    expect(got).toEqual([1]);
    expect((await stopped("bidi-timeout")).aborted).toBe("deadline_exceeded");
    await stillServes();
  });
});
