/**
 * Typed procedures, every error path: input and output validation (with the issues in the
 * error's details), bad items in the middle of a request stream, unknown procedures, a
 * handler's own RpcError, undecodable payloads and malformed names sent as raw frames.
 * After each, the connection serves the next call.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { RpcError } from "../mod.ts";
import { bidi, clientStream, router, serverStream, unary } from "../src/typed/mod.ts";
import { concat, frame, readU32, str, text, toHex } from "./support/bytes.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { rawWeftClient } from "./support/raw_weft.ts";
import { collect, errorOf, Feed, type TypedPair, typedPair, within } from "./support/typed.ts";

const calls: Record<string, number> = {};
const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
const handled: unknown[] = [];

const Item = v.object({ name: v.pipe(v.string(), v.minLength(1)), qty: v.number() });

const routes = router({
  ok: unary({ input: v.optional(v.undefined()), output: v.string() }, () => "ok"),
  echo: unary({ input: v.object({ text: v.string() }), output: v.object({ text: v.string() }) }, (input) => input),
  order: {
    create: unary({ input: v.object({ items: v.array(Item) }), output: v.number() }, ({ items }) => {
      count("order.create");
      return items.length;
    }),
  },
  badOutput: unary({ input: v.number(), output: v.object({ id: v.number() }) }, (n) => {
    count("badOutput");
    return { id: String(n) } as unknown as { id: number };
  }),
  badItems: serverStream({ input: v.number(), output: v.number() }, async function* (upTo) {
    for (let i = 0; i < upTo; i++) yield i;
    yield "three" as unknown as number;
    yield 4;
  }),
  tally: clientStream({ input: v.object({ n: v.number() }), output: v.number() }, async (inputs) => {
    let total = 0;
    for await (const { n } of inputs) {
      handled.push(n);
      total += n;
    }
    return total;
  }),
  square: bidi({ input: v.number(), output: v.number() }, async function* (inputs) {
    for await (const n of inputs) {
      handled.push(n);
      yield n * n;
    }
  }),
  find: unary({ input: v.number(), output: v.string() }, (id) => {
    throw new RpcError("not_found", `no user ${id}`, { details: { id, tried: ["cache", "db"] } });
  }),
  findAll: serverStream({ input: v.number(), output: v.string() }, async function* (upTo) {
    for (let i = 0; i < upTo; i++) yield `user ${i}`;
    throw new RpcError("permission_denied", "the rest is secret", { details: { shown: upTo } });
  }),
  upload: clientStream({ input: v.string(), output: v.number() }, async (inputs) => {
    for await (const s of inputs) if (s === "stop") throw new RpcError("out_of_range", "too far", { details: { at: s } });
    return 0;
  }),
  crash: unary({ input: v.optional(v.undefined()), output: v.string() }, () => {
    throw new Error("secret internals");
  }),
});

let t: TypedPair<typeof routes>;
const api = () => t.api;
// deno-lint-ignore no-explicit-any
const loose = () => t.api as any;

beforeAll(async () => {
  t = await typedPair(routes);
});
afterAll(() => t.close());

async function stillServes(): Promise<void> {
  expect(await within(t.api.ok(), 2000, "the next call")).toBe("ok");
}

describe("input validation", () => {
  test("a nested bad field: invalid_argument with its dotted path, and the handler never runs", async () => {
    const error = await errorOf(() => api().order.create({ items: [{ name: "a", qty: 1 }, { name: "", qty: 2 }] }));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain('input of "order.create"');
    expect(error.message).toContain("items.1.name");
    expect(error.details).toEqual({
      issues: [{ path: "items.1.name", message: "Invalid length: Expected >=1 but received 0" }],
    });
    expect(calls["order.create"]).toBeUndefined();
    await stillServes();
  });

  test("every issue is listed, each with its path", async () => {
    const error = await errorOf(() => loose().order.create({ items: [{ name: 5, qty: "x" }] }));
    expect(error.code).toBe("invalid_argument");
    const issues = (error.details as { issues: { path?: string; message: string }[] }).issues;
    expect(issues.map((issue) => issue.path)).toEqual(["items.0.name", "items.0.qty"]);
    expect(issues[0].message).toContain("Expected string");
    expect(issues[1].message).toContain("Expected number");
    expect(calls["order.create"]).toBeUndefined();
  });

  test("a missing input: an issue without a path", async () => {
    const error = await errorOf(() => loose().echo());
    expect(error.code).toBe("invalid_argument");
    const issues = (error.details as { issues: { path?: string; message: string }[] }).issues;
    expect(issues.length).toBe(1);
    expect(issues[0].path).toBeUndefined();
    expect(issues[0].message).toContain("Expected Object");
    await stillServes();
  });

  test("a valid call to the same procedure still runs its handler", async () => {
    expect(await api().order.create({ items: [{ name: "a", qty: 1 }] })).toBe(1);
    expect(calls["order.create"]).toBe(1);
  });
});

describe("output validation", () => {
  test("a handler's bad output: internal, naming the output", async () => {
    const error = await errorOf(() => api().badOutput(7));
    expect(error.code).toBe("internal");
    expect(error.message).toContain('output of "badOutput"');
    expect(error.details).toEqual({ issues: [{ path: "id", message: 'Invalid type: Expected number but received "7"' }] });
    expect(calls["badOutput"]).toBe(1);
    await stillServes();
  });

  test("a bad item in the middle of a reply stream: the earlier items, then internal", async () => {
    const items: number[] = [];
    const error = await errorOf(async () => {
      for await (const n of api().badItems(3)) items.push(n);
    });
    expect(items).toEqual([0, 1, 2]);
    expect(error.code).toBe("internal");
    expect(error.message).toContain('item of "badItems"');
    await stillServes();
  });
});

describe("bad items in a request stream", () => {
  test("client stream: items before the bad one are handled, then invalid_argument", async () => {
    handled.length = 0;
    async function* items() {
      yield { n: 1 };
      yield { n: 2 };
      yield { n: "three" };
      yield { n: 4 };
    }
    const error = await errorOf(() => loose().tally(items()));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain('input item of "tally"');
    expect(error.details).toEqual({ issues: [{ path: "n", message: 'Invalid type: Expected number but received "three"' }] });
    expect(handled).toEqual([1, 2]);
    await stillServes();
  });

  test("bidi: replies to the earlier items arrive, then invalid_argument", async () => {
    handled.length = 0;
    const source = new Feed<unknown>();
    const replies: number[] = [];
    const done = errorOf(async () => {
      for await (const n of loose().square(source)) {
        replies.push(n);
        if (n === 4) source.push("x"); // the third item is bad
      }
    });
    source.push(1);
    source.push(2);
    const error = await done;
    expect(replies).toEqual([1, 4]);
    expect(handled).toEqual([1, 2]);
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain('input item of "square"');
    expect((error.details as { issues: unknown[] }).issues.length).toBe(1);
    await stillServes();
  });
});

describe("unknown procedures", () => {
  test("unimplemented, with the name in the message", async () => {
    const error = await errorOf(() => loose().nope(1));
    expect(error.code).toBe("unimplemented");
    expect(error.message).toContain('"nope"');
    await stillServes();
  });

  test("a nested name that does not exist, and a namespace called as a procedure", async () => {
    const missing = await errorOf(() => loose().order.cancel(1));
    expect(missing.code).toBe("unimplemented");
    expect(missing.message).toContain('"order.cancel"');
    const namespace = await errorOf(() => loose().order({}));
    expect(namespace.code).toBe("unimplemented");
    expect(namespace.message).toContain('"order"');
    await stillServes();
  });

  test("an unknown procedure called with a request stream", async () => {
    const error = await errorOf(async () => {
      for await (const _ of loose().nowhere((async function* () {
        yield 1;
      })())) { /* nothing comes */ }
    });
    expect(error.code).toBe("unimplemented");
    expect(error.message).toContain('"nowhere"');
    await stillServes();
  });
});

describe("the handler's own errors", () => {
  test("an RpcError keeps its code, message and details", async () => {
    const error = await errorOf(() => api().find(9));
    expect(error.code).toBe("not_found");
    expect(error.message).toBe("no user 9");
    expect(error.details).toEqual({ id: 9, tried: ["cache", "db"] });
    await stillServes();
  });

  test("an RpcError in the middle of a reply stream, after its items", async () => {
    const items: string[] = [];
    const error = await errorOf(async () => {
      for await (const s of api().findAll(2)) items.push(s);
    });
    expect(items).toEqual(["user 0", "user 1"]);
    expect(error.code).toBe("permission_denied");
    expect(error.message).toBe("the rest is secret");
    expect(error.details).toEqual({ shown: 2 });
  });

  test("an RpcError from a client-stream handler", async () => {
    const error = await errorOf(() => api().upload((async function* () {
      yield "go";
      yield "stop";
    })()));
    expect(error.code).toBe("out_of_range");
    expect(error.message).toBe("too far");
    expect(error.details).toEqual({ at: "stop" });
    await stillServes();
  });

  test("any other throw is internal, and its message stays on the server", async () => {
    const error = await errorOf(() => api().crash());
    expect(error.code).toBe("internal");
    expect(error.message).not.toContain("secret internals");
    await stillServes();
  });
});

describe("misuse of a shape", () => {
  test("a request stream sent to a unary procedure: invalid_argument", async () => {
    const error = await errorOf(() => loose().echo((async function* () {
      yield { text: "a" };
    })()));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain('"echo" takes one request frame');
    await stillServes();
  });

  test("awaiting a streamed reply: failed_precondition, telling to walk it", async () => {
    const error = await errorOf(() => loose().badItems(1));
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toContain("for await");
    await stillServes();
  });
});

// ---- raw frames ------------------------------------------------------------------------

const NAME_CMD = 0xffff;
const prefixed = (name: string, body: string) => concat(new Uint8Array([name.length]), text(name), text(body));

function parse(bytes: Uint8Array) {
  return { id: readU32(bytes, 8), flags: bytes[12], cmd: readU32(bytes, 12) & 0xffffff, payload: bytes.subarray(16) };
}

describe("raw frames", () => {
  test("a payload that is not JSON: reset with invalid_argument (3), then the socket serves on", async () => {
    const { raw } = await rawWeftClient(t.listener.port);
    raw.write(frame(5, 0, NAME_CMD, prefixed("echo", '{"text": "unterminated')));
    const reset = parse(await raw.readFrame());
    expect([reset.id, reset.flags, reset.cmd]).toEqual([5, 0x04, 3]);
    const body = JSON.parse(str(reset.payload));
    expect(body.message).toContain('input of "echo" is not valid json');
    // The same socket, a good call: a plain reply frame on the same id and cmd, JSON payload.
    raw.write(frame(7, 0, NAME_CMD, prefixed("echo", '{"text":"fine"}')));
    const reply = parse(await raw.readFrame());
    expect([reply.id, reply.flags, reply.cmd]).toEqual([7, 0, NAME_CMD]);
    expect(JSON.parse(str(reply.payload))).toEqual({ text: "fine" });
    raw.close();
    await stillServes();
  });

  test("valid JSON that fails the schema, from a raw socket: the issues travel in the reset's body", async () => {
    const { raw } = await rawWeftClient(t.listener.port);
    raw.write(frame(5, 0, NAME_CMD, prefixed("echo", '{"text": 5}')));
    const reset = parse(await raw.readFrame());
    expect([reset.id, reset.flags, reset.cmd]).toEqual([5, 0x04, 3]);
    expect(JSON.parse(str(reset.payload)).details).toEqual({
      issues: [{ path: "text", message: "Invalid type: Expected string but received 5" }],
    });
    raw.close();
  });

  test("malformed name prefixes: reset with invalid_argument (3), each; a plain caller's connection then closes", async () => {
    const bad = [
      new Uint8Array(0), // no length byte
      new Uint8Array([0]), // a zero-length name
      concat(new Uint8Array([10]), text("abc")), // the name runs past the payload
    ];
    for (const payload of bad) {
      // Plain qrpc framing: resets carry no body, and a qrpc caller cannot read one, so the
      // server closes the connection after it (its caller fails instead of waiting forever).
      const raw = await RawSocket.connect(t.listener.port);
      raw.write(frame(3, 0, NAME_CMD, payload));
      expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0x04, 3)));
      expect(await raw.waitClosed()).toBe(true);
    }
    const raw = await RawSocket.connect(t.listener.port);
    raw.write(frame(3, 0, NAME_CMD, prefixed("ok", "")));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0, NAME_CMD, text('"ok"'))));
    raw.close();
    await stillServes();
  });

  test("an unknown name from a raw socket: reset with unimplemented (12)", async () => {
    const raw = await RawSocket.connect(t.listener.port);
    raw.write(frame(3, 0, NAME_CMD, prefixed("missing", "1")));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0x04, 12)));
    raw.close();
  });

  test("bad items mid-stream from a raw socket: undecodable, then the call fails; other calls are untouched", async () => {
    handled.length = 0;
    const raw = await RawSocket.connect(t.listener.port);
    // tally by name: the first frame carries only the name; items follow as Stream frames.
    raw.write(frame(3, 0x01, NAME_CMD, prefixed("tally", "")));
    raw.write(frame(3, 0x01, NAME_CMD, text('{"n":5}')));
    raw.write(frame(3, 0x01, NAME_CMD, text("{nope")));
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0x04, 3)));
    expect(handled).toEqual([5]);
    expect(await raw.waitClosed()).toBe(true); // a plain caller: see above
    const other = await RawSocket.connect(t.listener.port);
    other.write(frame(5, 0, NAME_CMD, prefixed("ok", "")));
    expect(str(parse(await other.readFrame()).payload)).toBe('"ok"');
    other.close();
  });

  test("a stream of items ended by an empty frame, as qrpc ends streams", async () => {
    const raw = await RawSocket.connect(t.listener.port);
    raw.write(frame(3, 0x01, NAME_CMD, prefixed("tally", "")));
    raw.write(frame(3, 0x01, NAME_CMD, text('{"n":2}')));
    raw.write(frame(3, 0x01, NAME_CMD, text('{"n":3}')));
    raw.write(frame(3, 0x03, NAME_CMD)); // Stream|StreamEnd, empty: no item
    expect(toHex(await raw.readFrame())).toBe(toHex(frame(3, 0, NAME_CMD, text("5"))));
    raw.close();
  });
});

test("after all of the above, the typed client's connection is still open", async () => {
  expect(t.client.isOpen).toBe(true);
  expect(await collect(t.api.badItems(0)).catch((e: RpcError) => e.code)).toBe("internal");
  await stillServes();
});
