/**
 * Typed procedures, middleware: on the server (order, metadata in and out, a property the
 * handler reads through its typed context, refusing a call, answering one itself) and on
 * the client (metadata on the way out, the reply's metadata after next, a retry).
 */
import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { RpcError } from "../mod.ts";
import {
  type ClientMiddleware,
  type Context,
  createClient,
  type Middleware,
  procedures,
  router,
  unary,
} from "../src/typed/mod.ts";
import { cleanup, collect, errorOf, typedPair, within } from "./support/typed.ts";

afterEach(cleanup);

type Authed = Context & { user: string };
const p = procedures<Authed>();

const log: string[] = [];
let handlerRuns = 0;

const routes = router({
  whoami: p.unary({ input: v.optional(v.undefined()), output: v.string() }, (_, ctx) => {
    handlerRuns++;
    log.push("handler");
    return `you are ${ctx.user}`;
  }),
  feed: p.serverStream({ input: v.number(), output: v.string() }, async function* (count, ctx) {
    handlerRuns++;
    for (let i = 0; i < count; i++) yield `${ctx.user} ${i}`;
  }),
  cached: p.unary({ input: v.string(), output: v.string() }, (key) => {
    handlerRuns++;
    return `fresh ${key}`;
  }),
});

/** Logs around the call. */
const outer: Middleware<Authed> = async (ctx, next) => {
  log.push(`outer in ${ctx.path}`);
  try {
    return await next();
  } finally {
    log.push("outer out");
  }
};

/** Reads the token from the caller's metadata, refuses without one, sets ctx.user. */
const auth: Middleware<Authed> = (ctx, next) => {
  log.push("auth in");
  const token = ctx.metadata["authorization"];
  if (typeof token !== "string" || !token.startsWith("Bearer ")) {
    throw new RpcError("unauthenticated", "no token", { details: { path: ctx.path } });
  }
  ctx.user = token.slice("Bearer ".length);
  ctx.replyMetadata["authenticated-as"] = ctx.user;
  return next();
};

/** Answers "cached" calls for the key "hit" without calling the handler. */
const cache: Middleware<Authed> = (ctx, next) => {
  if (ctx.path === "cached" && new TextDecoder().decode(ctx.request.payload).endsWith('"hit"')) return "from cache";
  return next();
};

async function start(clientMiddleware: ClientMiddleware[] = []) {
  log.length = 0;
  handlerRuns = 0;
  const t = await typedPair(routes, { serve: { middleware: [outer, auth, cache] } });
  return { ...t, api: createClient<typeof routes>(t.client, { middleware: clientMiddleware }) };
}

const bearer = { metadata: { authorization: "Bearer ann" } };

describe("server middleware", () => {
  test("runs outermost first around the handler, and the handler reads the property it added", async () => {
    const t = await start();
    expect(await t.api.whoami(undefined, bearer)).toBe("you are ann");
    expect(log).toEqual(["outer in whoami", "auth in", "handler", "outer out"]);
    await t.close();
  });

  test("reads ctx.metadata and writes ctx.replyMetadata, which the caller gets as call.metadata", async () => {
    const t = await start();
    const call = t.api.whoami(undefined, { metadata: { authorization: "Bearer bob" } });
    expect(await call).toBe("you are bob");
    expect(await within(call.metadata, 2000, "metadata")).toEqual({ "authenticated-as": "bob" });
    await t.close();
  });

  test("a middleware that throws RpcError refuses the call: the handler never runs", async () => {
    const t = await start();
    const error = await errorOf(() => t.api.whoami());
    expect(error.code).toBe("unauthenticated");
    expect(error.message).toBe("no token");
    expect(error.details).toEqual({ path: "whoami" });
    expect(handlerRuns).toBe(0);
    expect(log).toEqual(["outer in whoami", "auth in", "outer out"]);
    // The same connection, with a token: served.
    expect(await t.api.whoami(undefined, bearer)).toBe("you are ann");
    expect(handlerRuns).toBe(1);
    await t.close();
  });

  test("middleware runs around stream calls too, and can refuse them", async () => {
    const t = await start();
    expect(await collect(t.api.feed(2, bearer))).toEqual(["ann 0", "ann 1"]);
    const error = await errorOf(() => collect(t.api.feed(2)));
    expect(error.code).toBe("unauthenticated");
    expect(handlerRuns).toBe(1);
    await t.close();
  });

  test("a middleware may answer by itself; its answer is validated like the handler's", async () => {
    const t = await start();
    expect(await t.api.cached("hit", bearer)).toBe("from cache");
    expect(handlerRuns).toBe(0);
    expect(await t.api.cached("miss", bearer)).toBe("fresh miss");
    expect(handlerRuns).toBe(1);
    await t.close();
  });

  test("a middleware's answer that fails the output schema is internal", async () => {
    const bad: Middleware = () => 42;
    const t = await typedPair(router({ s: unary({ input: v.string(), output: v.string() }, (s) => s) }), { serve: { middleware: [bad] } });
    const error = await errorOf(() => t.api.s("x"));
    expect(error.code).toBe("internal");
    expect(error.message).toContain('output of "s"');
    await t.close();
  });
});

describe("client middleware", () => {
  test("adds metadata on the way out; the server's middleware reads it", async () => {
    const token: ClientMiddleware = (call, next) =>
      next({ ...call, options: { ...call.options, metadata: { ...call.options.metadata, authorization: "Bearer cli" } } });
    const t = await start([token]);
    expect(await t.api.whoami()).toBe("you are cli");
    expect(await collect(t.api.feed(1))).toEqual(["cli 0"]);
    await t.close();
  });

  test("reads call.response's metadata after next, and sees the output", async () => {
    const seen: { path: string; output: unknown; metadata: unknown }[] = [];
    const inspect: ClientMiddleware = async (call, next) => {
      const output = await next(call);
      seen.push({ path: call.path, output, metadata: call.response?.metadata });
      return output;
    };
    const t = await start([inspect]);
    expect(await t.api.whoami(undefined, bearer)).toBe("you are ann");
    expect(seen).toEqual([{ path: "whoami", output: "you are ann", metadata: { "authenticated-as": "ann" } }]);
    await t.close();
  });

  test("runs outermost first, and may change the input", async () => {
    const order: string[] = [];
    const first: ClientMiddleware = (call, next) => {
      order.push("first");
      return next(call);
    };
    const second: ClientMiddleware = (call, next) => {
      order.push("second");
      return next({ ...call, input: `${call.input}-changed` });
    };
    const t = await start([first, second]);
    expect(await t.api.cached("miss", bearer)).toBe("fresh miss-changed");
    expect(order).toEqual(["first", "second"]);
    await t.close();
  });

  test("refusing before the call leaves: the server never hears of it", async () => {
    const refuse: ClientMiddleware = () => Promise.reject(new RpcError("permission_denied", "not from here"));
    const t = await start([refuse]);
    const error = await errorOf(() => t.api.whoami(undefined, bearer));
    expect(error.code).toBe("permission_denied");
    expect(log).toEqual([]);
    expect(handlerRuns).toBe(0);
    await t.close();
  });

  test("retries a call that failed once with unavailable", async () => {
    let attempts = 0;
    const flaky = router({
      flaky: unary({ input: v.string(), output: v.string() }, (s) => {
        attempts++;
        if (attempts === 1) throw new RpcError("unavailable", "warming up");
        return `${s} on attempt ${attempts}`;
      }),
    });
    const retried: string[] = [];
    const retry: ClientMiddleware = async (call, next) => {
      try {
        return await next(call);
      } catch (error) {
        if (!(error instanceof RpcError) || error.code !== "unavailable") throw error;
        retried.push(error.message);
        return await next(call);
      }
    };
    const t = await typedPair(flaky, { clientOptions: { middleware: [retry] } });
    expect(await within(t.api.flaky("x"), 2000, "the retried call")).toBe("x on attempt 2");
    expect(attempts).toBe(2);
    expect(retried).toEqual(["warming up"]);
    // Without the middleware, the first failure reaches the caller.
    attempts = 0;
    const noRetry = createClient<typeof flaky>(t.client);
    expect((await errorOf(() => noRetry.flaky("y"))).code).toBe("unavailable");
    await t.close();
  });
});
