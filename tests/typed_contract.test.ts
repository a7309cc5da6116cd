/**
 * Typed contracts: procedures without handlers shared with clients, `implement`, what
 * `router()` and `serve()` refuse, a client that validates with the contract before
 * sending and after receiving, the JSON Schema export and the reflection procedure.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { JsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { RpcError, Server } from "../mod.ts";
import { describe as describeRouter, fetchContract } from "../src/typed/json_schema.ts";
import {
  bidi,
  clientStream,
  createClient,
  event,
  implement,
  RESERVED_NAMES,
  router,
  serve,
  serverStream,
  unary,
} from "../src/typed/mod.ts";
import { until } from "./support/bytes.ts";
import { cleanup, collect, errorOf, typedPair, within } from "./support/typed.ts";

afterEach(cleanup);

const User = v.object({ id: v.number(), name: v.pipe(v.string(), v.minLength(1)) });

/** Shared by server and client: no handlers. */
const contract = router({
  users: {
    get: unary({ input: v.object({ id: v.pipe(v.number(), v.integer()) }), output: User, cmd: 7, description: "One user by id" }),
    list: serverStream({ input: v.number(), output: User }),
  },
  upload: clientStream({ input: v.pipe(v.string(), v.maxLength(5)), output: v.number() }),
  chat: bidi({ input: v.string(), output: v.string() }),
  joined: event(v.object({ id: v.number() }), { description: "Someone joined" }),
});

const ran: string[] = [];
const implemented = implement(contract, {
  users: {
    get: ({ id }) => {
      ran.push("users.get");
      return { id, name: `user ${id}` };
    },
    list: async function* (count) {
      for (let id = 1; id <= count; id++) yield { id, name: `user ${id}` };
    },
  },
  upload: async (parts) => {
    let n = 0;
    for await (const part of parts) n += part.length;
    return n;
  },
  chat: async function* (lines) {
    for await (const line of lines) yield `> ${line}`;
  },
});

describe("implement", () => {
  test("a contract with its handlers serves every shape, nested names, and its events", async () => {
    const t = await typedPair(implemented, { clientOptions: { contract } });
    expect(await t.api.users.get({ id: 3 })).toEqual({ id: 3, name: "user 3" });
    expect(await collect(t.api.users.list(2))).toEqual([{ id: 1, name: "user 1" }, { id: 2, name: "user 2" }]);
    expect(await t.api.upload((async function* () {
      yield "ab";
      yield "cde";
    })())).toBe(5);
    expect(await collect(t.api.chat((async function* () {
      yield "hi";
    })()))).toEqual(["> hi"]);
    const joined: unknown[] = [];
    t.api.joined.subscribe((data) => joined.push(data));
    expect(t.served.emit.joined({ id: 9 })).toBe(1);
    await until(() => joined.length === 1, 2000, "the event");
    expect(joined).toEqual([{ id: 9 }]);
    await t.close();
  });

  test("a missing handler is refused, naming it", () => {
    // deno-lint-ignore no-explicit-any
    const partial = { users: { get: () => ({ id: 1, name: "x" }) }, upload: () => 0, chat: async function* () {} } as any;
    expect(() => implement(contract, partial)).toThrow('no handler for "users.list"');
  });

  test("serve of a contract without handlers throws, and registers nothing", async () => {
    const server = new Server();
    expect(() => serve(contract, server)).toThrow('"users.get" has no handler');
    expect(server.mux.cmds).toEqual([]);
    // The same server then serves the implemented router.
    expect(() => serve(implemented, server)).not.toThrow();
    expect(server.mux.cmds).toEqual([7, 0xffff]);
    await server.close({ timeout: 10 });
  });

  test("serving twice on the same target is refused (cmd 0xFFFF is taken)", async () => {
    const server = new Server();
    serve(implemented, server);
    expect(() => serve(router({ other: unary({ input: v.string(), output: v.string() }, (s) => s) }), server))
      .toThrow("cmd 65535 already has a handler");
    await server.close({ timeout: 10 });
  });
});

describe("what router() refuses", () => {
  const proc = () => unary({ input: v.string(), output: v.string() });

  test("the reserved names, at any depth, procedures and events alike", () => {
    expect(RESERVED_NAMES).toEqual(["then", "subscribe"]);
    expect(() => router({ then: proc() })).toThrow('"then" is reserved');
    expect(() => router({ subscribe: proc() })).toThrow('"subscribe" is reserved');
    expect(() => router({ users: { then: proc() } })).toThrow('"users.then"');
    expect(() => router({ feed: { subscribe: event(v.string()) } })).toThrow('"feed.subscribe"');
  });

  test("two procedures, or two events, pinned to the same cmd", () => {
    expect(() => router({ a: unary({ input: v.string(), output: v.string(), cmd: 7 }), b: { c: unary({ input: v.string(), output: v.string(), cmd: 7 }) } }))
      .toThrow('"b.c" and "a" are both pinned to cmd 7');
    expect(() => router({ x: event(v.string(), { cmd: 60 }), y: event(v.number(), { cmd: 60 }) }))
      .toThrow("both pinned to cmd 60");
  });

  test("names that are not identifiers", () => {
    for (const name of ["a.b", "1x", "$weft", "", "has space"]) {
      expect(() => router({ [name]: proc() })).toThrow(TypeError);
    }
    expect(() => router({ "ok_name-2": proc() })).not.toThrow();
  });

  test("a cmd outside 0..65535 or not an integer, at definition", () => {
    expect(() => unary({ input: v.string(), output: v.string(), cmd: 0x10000 })).toThrow(RangeError);
    expect(() => unary({ input: v.string(), output: v.string(), cmd: 1.5 })).toThrow(RangeError);
    expect(() => event(v.string(), { cmd: -1 })).toThrow(RangeError);
  });

  test("a procedure pinned to 0xFFFF, the cmd of every call by name (by router() or at the latest by serve())", () => {
    // Served, it would replace the dispatcher of calls by name: every other procedure's
    // calls would be decoded as this one's plain input.
    expect(() => {
      const clash = router({ x: unary({ input: v.string(), output: v.string(), cmd: 0xffff }, (s) => s) });
      serve(clash, new Server());
    }).toThrow("cmd 65535");
  });

  test("an event pinned to 0xFFFE, the cmd of every event by name", () => {
    expect(() => router({ x: event(v.string(), { cmd: 0xfffe }) })).toThrow("cmd 65534");
  });
});

// ---- a client with the contract ---------------------------------------------------------

/** The server side is laxer than the contract, so only the client's own checks can refuse. */
const lax = router({
  users: {
    get: unary({ input: v.unknown(), output: v.unknown(), cmd: 7 }, (input) => {
      ran.push("lax users.get");
      // id 13 gets a user the contract refuses (an empty name).
      return (input as { id?: unknown }).id === 13 ? { id: 13, name: "" } : { id: 1, name: "ann" };
    }),
    list: serverStream({ input: v.unknown(), output: v.unknown() }, async function* () {
      yield { id: 1, name: "fine" };
      yield { id: 2, name: "" };
    }),
  },
  upload: clientStream({ input: v.unknown(), output: v.number() }, async (parts) => {
    for await (const part of parts) ran.push(`lax upload ${JSON.stringify(part)}`);
    return 0;
  }),
  chat: bidi({ input: v.unknown(), output: v.unknown() }, async function* (lines) {
    for await (const line of lines) yield line;
  }),
});

describe("a client with the contract", () => {
  test("refuses an invalid input before sending it: the server's handler never runs", async () => {
    const t = await typedPair(lax);
    const api = createClient(t.client, { contract });
    ran.length = 0;
    const error = await errorOf(() => api.users.get({ id: 1.5 }));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain('input of "users.get"');
    expect(error.details).toEqual({ issues: [{ path: "id", message: "Invalid integer: Received 1.5" }] });
    expect(ran).toEqual([]);
    // The same input without the contract does reach the lax server.
    // deno-lint-ignore no-explicit-any
    const blind = createClient<typeof lax>(t.client) as any;
    expect(await blind.users.get({ id: 1.5 })).toEqual({ id: 1, name: "ann" });
    expect(ran).toEqual(["lax users.get"]);
    await t.close();
  });

  test("validates outputs as they arrive: internal", async () => {
    const t = await typedPair(lax);
    const api = createClient(t.client, { contract });
    const error = await errorOf(() => api.users.get({ id: 13 }));
    expect(error.code).toBe("internal");
    expect(error.message).toContain('output of "users.get"');
    expect(error.details).toEqual({ issues: [{ path: "name", message: "Invalid length: Expected >=1 but received 0" }] });
    await t.close();
  });

  test("validates reply stream items as they arrive: the good ones, then internal", async () => {
    const t = await typedPair(lax);
    const api = createClient(t.client, { contract });
    const got: unknown[] = [];
    const error = await errorOf(async () => {
      for await (const user of api.users.list(2)) got.push(user);
    });
    expect(got).toEqual([{ id: 1, name: "fine" }]);
    expect(error.code).toBe("internal");
    expect(error.message).toContain('item of "users.list"');
    await t.close();
  });

  test("refuses an invalid request stream item before sending it: invalid_argument", async () => {
    const t = await typedPair(lax);
    const api = createClient(t.client, { contract });
    ran.length = 0;
    const error = await errorOf(() => api.upload((async function* () {
      yield "ok";
      yield "far too long";
      yield "never";
    })()));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain('input item of "upload"');
    await until(() => ran.length >= 1, 2000, "the first item");
    expect(ran).toEqual(['lax upload "ok"']);
    await t.close();
  });

  test("an unknown procedure is unimplemented without a round trip", async () => {
    const t = await typedPair(lax);
    const api = createClient(t.client, { contract });
    // deno-lint-ignore no-explicit-any
    const error = await errorOf(() => (api as any).users.remove(1));
    expect(error.code).toBe("unimplemented");
    expect(error.message).toContain('"users.remove"');
    await t.close();
  });
});

// ---- JSON Schema export and reflection --------------------------------------------------

const SCHEMA = "http://json-schema.org/draft-07/schema#";
const userSchema = {
  type: "object",
  properties: { id: { type: "number" }, name: { type: "string", minLength: 1 } },
  required: ["id", "name"],
} satisfies JsonSchema;

describe("describe(router) and reflection", () => {
  test("describe gives each procedure's shape, cmd, description and JSON Schemas, and each event's", () => {
    const description = describeRouter(contract);
    expect(description.procedureCmd).toBe(0xffff);
    expect(description.eventCmd).toBe(0xfffe);
    expect(Object.keys(description.procedures)).toEqual(["users.get", "users.list", "upload", "chat"]);
    expect(description.procedures["users.get"]).toEqual({
      shape: "unary",
      cmd: 7,
      description: "One user by id",
      input: { type: "object", properties: { id: { type: "integer" } }, required: ["id"], $schema: SCHEMA },
      output: { ...userSchema, $schema: SCHEMA },
    });
    expect(description.procedures["users.list"]).toEqual({
      shape: "serverStream",
      input: { type: "number", $schema: SCHEMA },
      output: { ...userSchema, $schema: SCHEMA },
    });
    expect(description.procedures["upload"]).toEqual({
      shape: "clientStream",
      input: { type: "string", maxLength: 5, $schema: SCHEMA },
      output: { type: "number", $schema: SCHEMA },
    });
    expect(description.procedures["chat"].shape).toBe("bidi");
    expect(description.events).toEqual({
      joined: {
        description: "Someone joined",
        data: { type: "object", properties: { id: { type: "number" } }, required: ["id"], $schema: SCHEMA },
      },
    });
  });

  test("the contract and its implementation describe alike", () => {
    expect(describeRouter(implemented)).toEqual(describeRouter(contract));
  });

  test("fetchContract gets the peer's description when it serves reflection", async () => {
    const t = await typedPair(implemented, { serve: { reflection: true } });
    const fetched = await within(fetchContract(t.client, { timeout: 2000 }), 2000, "fetchContract");
    expect(fetched).toEqual(JSON.parse(JSON.stringify(describeRouter(implemented))));
    expect(fetched.procedures["users.get"].cmd).toBe(7);
    // Procedures are still served alongside.
    expect(await t.api.users.get({ id: 1 })).toEqual({ id: 1, name: "user 1" });
    await t.close();
  });

  test("without reflection, fetchContract fails with unimplemented", async () => {
    const t = await typedPair(implemented);
    const error = await errorOf(() => fetchContract(t.client, { timeout: 2000 }));
    expect(error instanceof RpcError).toBe(true);
    expect(error.code).toBe("unimplemented");
    expect(error.message).toContain('"$weft.describe"');
    expect(await t.api.users.get({ id: 2 })).toEqual({ id: 2, name: "user 2" });
    await t.close();
  });
});
