/**
 * Typed procedures, the four shapes end to end over real TCP: nested names, every form a
 * stream can take on each side (async generator, ReadableStream, `.readable`, `for await`),
 * metadata, reply metadata and trailers, deadlines, and a msgpack connection carrying bytes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import {
  bidi,
  clientStream,
  type Context,
  createClient,
  router,
  serverStream,
  unary,
} from "../src/typed/mod.ts";
import { sleep } from "./support/bytes.ts";
import { collect, Feed, type TypedPair, typedPair, within } from "./support/typed.ts";

const seen: { path: string; shape: string }[] = [];
const note = (ctx: Context) => seen.push({ path: ctx.path, shape: ctx.shape });

const routes = router({
  hello: unary({ input: v.object({ name: v.string() }), output: v.string() }, ({ name }, ctx) => {
    note(ctx);
    return `hello ${name}`;
  }),
  ping: unary({ input: v.optional(v.undefined()), output: v.literal("pong") }, () => "pong"),
  users: {
    get: unary(
      { input: v.number(), output: v.object({ id: v.number(), name: v.string() }) },
      async (id, ctx) => {
        note(ctx);
        await sleep(1);
        return { id, name: `user ${id}` };
      },
    ),
    admin: {
      roles: unary({ input: v.string(), output: v.array(v.string()) }, (user, ctx) => {
        note(ctx);
        return [`${user}:read`, `${user}:write`];
      }),
    },
  },
  // The schema's transform runs before the handler: it receives the parsed value.
  double: unary({ input: v.pipe(v.string(), v.transform((s) => Number(s))), output: v.number() }, (n) => n * 2),
  ticker: serverStream({ input: v.object({ count: v.number() }), output: v.number() }, async function* ({ count }, ctx) {
    note(ctx);
    for (let i = 0; i < count; i++) yield i;
  }),
  letters: serverStream({ input: v.string(), output: v.string() }, (word) =>
    new ReadableStream<string>({
      start(controller) {
        for (const letter of word) controller.enqueue(letter);
        controller.close();
      },
    })),
  sum: clientStream({ input: v.number(), output: v.number() }, async (inputs, ctx) => {
    note(ctx);
    let total = 0;
    for await (const n of inputs) total += n;
    return total;
  }),
  // The handler reads its inputs as a ReadableStream instead of for await.
  join: clientStream({ input: v.string(), output: v.string() }, async (inputs) => {
    const reader = inputs.readable.getReader();
    const parts: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    return parts.join("+");
  }),
  shout: bidi({ input: v.string(), output: v.string() }, async function* (inputs, ctx) {
    note(ctx);
    for await (const s of inputs) yield s.toUpperCase();
  }),
  // bidi answered with a ReadableStream built from the inputs' ReadableStream.
  lengths: bidi({ input: v.string(), output: v.number() }, (inputs) =>
    inputs.readable.pipeThrough(
      new TransformStream<string, number>({
        transform: (s, controller) => controller.enqueue(s.length),
      }),
    )),
  meta: {
    unary: unary({ input: v.string(), output: v.record(v.string(), v.string()) }, (_, ctx) => {
      ctx.replyMetadata["served-by"] = "meta.unary";
      ctx.trailers["rows"] = "1";
      const out: Record<string, string> = {};
      for (const [key, value] of Object.entries(ctx.metadata)) if (typeof value === "string") out[key] = value;
      return out;
    }),
    stream: serverStream({ input: v.number(), output: v.string() }, async function* (count, ctx) {
      ctx.replyMetadata["who"] = String(ctx.metadata["who"]);
      for (let i = 0; i < count; i++) yield `row ${i}`;
      ctx.trailers["rows"] = String(count);
    }),
    upload: clientStream({ input: v.string(), output: v.string() }, async (inputs, ctx) => {
      let n = 0;
      for await (const _ of inputs) n++;
      ctx.replyMetadata["items"] = String(n);
      ctx.trailers["done"] = "yes";
      return `${ctx.metadata["who"]}:${n}`;
    }),
  },
  deadline: unary({ input: v.optional(v.undefined()), output: v.nullable(v.number()) }, (_, ctx) =>
    ctx.deadline === undefined ? null : ctx.deadline - Date.now()),
});

let t: TypedPair<typeof routes>;

beforeAll(async () => {
  t = await typedPair(routes);
});
afterAll(() => t.close());

describe("unary", () => {
  test("a call by name returns the handler's output", async () => {
    expect(await t.api.hello({ name: "bob" })).toBe("hello bob");
    expect(seen).toContainEqual({ path: "hello", shape: "unary" });
  });

  test("nested names: users.get and users.admin.roles", async () => {
    expect(await t.api.users.get(7)).toEqual({ id: 7, name: "user 7" });
    expect(await t.api.users.admin.roles("ann")).toEqual(["ann:read", "ann:write"]);
    expect(seen).toContainEqual({ path: "users.get", shape: "unary" });
    expect(seen).toContainEqual({ path: "users.admin.roles", shape: "unary" });
  });

  test("an input the schema accepts as undefined may be left out", async () => {
    expect(await t.api.ping()).toBe("pong");
  });

  test("the handler gets the input after the schema's transforms", async () => {
    expect(await t.api.double("21")).toBe(42);
  });

  test("a hundred concurrent calls on one connection each get their own output", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => i);
    const users = await within(Promise.all(ids.map((id) => t.api.users.get(id))), 5000, "100 calls");
    expect(users.map((u) => u.id)).toEqual(ids);
    expect(users[42].name).toBe("user 42");
  });
});

describe("server stream", () => {
  test("an async generator's items arrive in order through for await", async () => {
    expect(await collect(t.api.ticker({ count: 5 }))).toEqual([0, 1, 2, 3, 4]);
    expect(seen).toContainEqual({ path: "ticker", shape: "serverStream" });
  });

  test("an empty stream ends at once", async () => {
    expect(await collect(t.api.ticker({ count: 0 }))).toEqual([]);
  });

  test("a handler may return a ReadableStream", async () => {
    expect(await collect(t.api.letters("weft"))).toEqual(["w", "e", "f", "t"]);
  });

  test("the reply is also a ReadableStream: .readable", async () => {
    const reader = t.api.ticker({ count: 3 }).readable.getReader();
    const values: number[] = [];
    for (;;) {
      const { value, done } = await within(reader.read(), 2000, "read");
      if (done) break;
      values.push(value);
    }
    expect(values).toEqual([0, 1, 2]);
  });

  test("a thousand items, and two streams interleaved on one connection", async () => {
    const [a, b] = await Promise.all([collect(t.api.ticker({ count: 1000 })), collect(t.api.letters("interleaved"))]);
    expect(a.length).toBe(1000);
    expect(a[999]).toBe(999);
    expect(b.join("")).toBe("interleaved");
  });
});

describe("client stream", () => {
  test("an async generator as the input source", async () => {
    async function* numbers() {
      for (let i = 1; i <= 4; i++) yield i;
    }
    expect(await t.api.sum(numbers())).toBe(10);
    expect(seen).toContainEqual({ path: "sum", shape: "clientStream" });
  });

  test("a ReadableStream as the input source", async () => {
    const source = new ReadableStream<number>({
      start(controller) {
        for (const n of [5, 6, 7]) controller.enqueue(n);
        controller.close();
      },
    });
    expect(await t.api.sum(source)).toBe(18);
  });

  test("an empty source: the handler's loop ends at once", async () => {
    expect(await t.api.sum((async function* (): AsyncGenerator<number> {})())).toBe(0);
  });

  test("the handler may read its inputs as a ReadableStream", async () => {
    const source = new Feed<string>();
    const result = t.api.join(source);
    source.push("a");
    source.push("b");
    await sleep(5);
    source.push("c");
    source.end();
    expect(await within(result, 2000, "join")).toBe("a+b+c");
  });
});

describe("bidi", () => {
  test("replies flow while the request stream is still open", async () => {
    const source = new Feed<string>();
    const reply = t.api.shout(source);
    const iterator = reply[Symbol.asyncIterator]();
    // Each reply comes before the next input is even produced.
    for (const word of ["one", "two", "three"]) {
      source.push(word);
      const step = await within(iterator.next(), 2000, `reply to ${word}`);
      expect(step).toEqual({ value: word.toUpperCase(), done: false });
    }
    source.end();
    expect(await within(iterator.next(), 2000, "end")).toEqual({ value: undefined, done: true });
    expect(seen).toContainEqual({ path: "shout", shape: "bidi" });
  });

  test("a ReadableStream in, the handler's ReadableStream out, read through .readable", async () => {
    const source = new ReadableStream<string>({
      start(controller) {
        for (const s of ["a", "bb", "ccc"]) controller.enqueue(s);
        controller.close();
      },
    });
    const reader = t.api.lengths(source).readable.getReader();
    const out: number[] = [];
    for (;;) {
      const { value, done } = await within(reader.read(), 2000, "read");
      if (done) break;
      out.push(value);
    }
    expect(out).toEqual([1, 2, 3]);
  });
});

describe("metadata, reply metadata and trailers", () => {
  test("unary: ctx.metadata from the call's options; call.metadata and call.trailers back", async () => {
    const call = t.api.meta.unary("x", { metadata: { authorization: "Bearer t", "trace-id": "42" } });
    expect(await call).toEqual({ authorization: "Bearer t", "trace-id": "42" });
    expect(await within(call.metadata, 2000, "metadata")).toEqual({ "served-by": "meta.unary" });
    expect(await within(call.trailers, 2000, "trailers")).toEqual({ rows: "1" });
  });

  test("server stream: reply metadata with the first item, trailers once the stream is read", async () => {
    const reply = t.api.meta.stream(3, { metadata: { who: "ann" } });
    expect(await within(reply.metadata, 2000, "metadata")).toEqual({ who: "ann" });
    expect(await collect(reply)).toEqual(["row 0", "row 1", "row 2"]);
    expect(await within(reply.trailers, 2000, "trailers")).toEqual({ rows: "3" });
  });

  test("client stream: the request stream's metadata reaches the handler", async () => {
    const call = t.api.meta.upload((async function* () {
      yield "a";
      yield "b";
    })(), { metadata: { who: "bob" } });
    expect(await call).toBe("bob:2");
    expect(await within(call.metadata, 2000, "metadata")).toEqual({ items: "2" });
    expect(await within(call.trailers, 2000, "trailers")).toEqual({ done: "yes" });
  });

  test("a call without metadata: the handler sees none", async () => {
    const call = t.api.meta.unary("x");
    expect(await call).toEqual({});
    expect(await within(call.metadata, 2000, "metadata")).toEqual({ "served-by": "meta.unary" });
  });
});

describe("deadlines", () => {
  test("ctx.deadline is the caller's timeout from now", async () => {
    const left = await t.api.deadline(undefined, { timeout: 1500 });
    expect(left).not.toBeNull();
    expect(left!).toBeGreaterThan(0);
    expect(left!).toBeLessThanOrEqual(1500);
  });

  test("no timeout, no deadline", async () => {
    expect(await t.api.deadline()).toBeNull();
  });
});

describe("a msgpack connection", () => {
  const binary = router({
    reverse: unary({ input: v.instance(Uint8Array), output: v.instance(Uint8Array) }, (bytes, ctx) => {
      firstBytes.push(ctx.request.payload.slice());
      return bytes.slice().reverse();
    }),
    chunks: serverStream({ input: v.object({ size: v.number(), count: v.number() }), output: v.instance(Uint8Array) },
      async function* ({ size, count }) {
        for (let i = 0; i < count; i++) yield new Uint8Array(size).fill(i);
      }),
    total: clientStream({ input: v.instance(Uint8Array), output: v.object({ bytes: v.number(), last: v.number() }) },
      async (inputs) => {
        let bytes = 0;
        let last = -1;
        for await (const chunk of inputs) {
          bytes += chunk.length;
          last = chunk[chunk.length - 1];
        }
        return { bytes, last };
      }),
  });
  const firstBytes: Uint8Array[] = [];
  let m: TypedPair<typeof binary>;

  beforeAll(async () => {
    m = await typedPair(binary, { client: { codec: "msgpack" } });
  });
  afterAll(() => m.close());

  test("Uint8Array travels as bytes, both ways", async () => {
    const input = new Uint8Array([0, 1, 2, 254, 255]);
    const output = await m.api.reverse(input);
    expect(output instanceof Uint8Array).toBe(true);
    expect([...output]).toEqual([255, 254, 2, 1, 0]);
    // On the wire: 1 length byte, "reverse", then MessagePack bin8 (0xc4, length 5, the bytes).
    const payload = firstBytes[0];
    expect([...payload.subarray(0, 8)]).toEqual([7, ...new TextEncoder().encode("reverse")]);
    expect([...payload.subarray(8)]).toEqual([0xc4, 5, 0, 1, 2, 254, 255]);
  });

  test("a second call on the same connection, and a stream of byte chunks", async () => {
    expect([...await m.api.reverse(new Uint8Array([1, 2]))]).toEqual([2, 1]);
    const chunks = await collect(m.api.chunks({ size: 1024, count: 3 }));
    expect(chunks.map((c) => [c instanceof Uint8Array, c.length, c[0], c[1023]])).toEqual([
      [true, 1024, 0, 0],
      [true, 1024, 1, 1],
      [true, 1024, 2, 2],
    ]);
  });

  test("a request stream of byte chunks", async () => {
    async function* chunks() {
      for (let i = 1; i <= 3; i++) yield new Uint8Array(100).fill(i);
    }
    expect(await m.api.total(chunks())).toEqual({ bytes: 300, last: 3 });
  });

  test("the server and client agree on the codec", async () => {
    expect(m.client.codec).toBe("msgpack");
    expect(m.serverSide.codec).toBe("msgpack");
    // The same server's typed procedures also serve a JSON client.
    const other = await m.connect({});
    const api = createClient<typeof binary>(other);
    expect(await api.total((async function* () {})())).toEqual({ bytes: 0, last: -1 });
  });
});

describe("names and payloads", () => {
  const whoAmI = () => unary({ input: v.optional(v.undefined()), output: v.string() }, (_, ctx) => ctx.path);
  // "phJXKxa"/"pIVxhXa" and "pSo2vZa"/"pbCAMLb" share a 32-bit FNV-1a hash: the server's
  // name table must compare the bytes, not just the hash.
  const named = router({
    phJXKxa: whoAmI(),
    pIVxhXa: whoAmI(),
    pSo2vZa: whoAmI(),
    user: whoAmI(),
    users: { get: whoAmI(), getAll: whoAmI() },
    usersget: whoAmI(),
    text: unary({ input: v.string(), output: v.object({ text: v.string(), length: v.number() }) }, (text) => ({ text, length: [...text].length })),
  });
  let n: TypedPair<typeof named>;

  beforeAll(async () => {
    n = await typedPair(named);
  });
  afterAll(() => n.close());

  test("each name reaches its own procedure: shared hashes, and names that are prefixes of others", async () => {
    const paths = await Promise.all([
      n.api.phJXKxa(),
      n.api.pIVxhXa(),
      n.api.pSo2vZa(),
      n.api.user(),
      n.api.users.get(),
      n.api.users.getAll(),
      n.api.usersget(),
    ]);
    expect(paths).toEqual(["phJXKxa", "pIVxhXa", "pSo2vZa", "user", "users.get", "users.getAll", "usersget"]);
  });

  test("an unknown name whose hash matches a known one is still unknown", async () => {
    // deno-lint-ignore no-explicit-any
    const error = await (n.api as any).pbCAMLb().catch((e: unknown) => e);
    expect(error.code).toBe("unimplemented");
    expect(error.message).toContain('"pbCAMLb"');
  });

  test("non-ASCII text round trips, short and long, and a large payload", async () => {
    const short = "héllo wörld, 你好, 🌍🚀";
    expect(await n.api.text(short)).toEqual({ text: short, length: 19 });
    const long = "ÿ€😀a".repeat(1000); // past the small-buffer size
    expect(await n.api.text(long)).toEqual({ text: long, length: 4000 });
    const big = "x".repeat(300_000);
    expect((await n.api.text(big)).length).toBe(300_000);
    // Interleaved small calls each get their own text back.
    const texts = Array.from({ length: 200 }, (_, i) => `${i}-ü-${"é".repeat(i % 7)}`);
    const replies = await within(Promise.all(texts.map((text) => n.api.text(text))), 3000, "200 calls");
    expect(replies.map((reply) => reply.text)).toEqual(texts);
  });
});
