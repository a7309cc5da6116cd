/**
 * The nesting limit on typed inputs (`serve(..., { maxDepth })`, default 64). A deep input is
 * refused with `invalid_argument` before it is parsed or validated: a million levels of JSON
 * used to cost 0.6-1.9 s of CPU while other callers waited, and overflowed the stack of a
 * recursive (`v.lazy`) schema, which failed as `internal`. Inputs are sent as raw bytes on
 * the name cmd, since no client would encode them.
 */
import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { RpcError } from "../mod.ts";
import { clientStream, router, unary } from "../src/typed/mod.ts";
import { namePrefix, PROCEDURE_CMD, withPrefix } from "../src/typed/wire.ts";
import { jsonNestsDeeperThan } from "../src/codec/json.ts";
import { text } from "./support/bytes.ts";
import { cleanup, typedPair } from "./support/typed.ts";

afterEach(cleanup);

type Tree = Tree[];
let lazyCalls = 0;
const Tree: v.GenericSchema<Tree> = v.lazy(() => {
  lazyCalls++;
  return v.array(Tree);
});

function depthOf(tree: Tree): number {
  let depth = 0;
  for (let level: Tree | undefined = tree; level !== undefined; level = level[0]) depth++;
  return depth;
}

const routes = router({
  tree: unary({ input: Tree, output: v.number() }, (tree) => depthOf(tree)),
  note: unary({ input: v.object({ text: v.string() }), output: v.number() }, ({ text }) => text.length),
  trees: clientStream({ input: Tree, output: v.number() }, async (trees) => {
    let n = 0;
    for await (const _ of trees) n++;
    return n;
  }),
  ok: unary({ input: v.optional(v.undefined()), output: v.string() }, () => "ok"),
});

/** `depth` nested JSON arrays: "[[[...]]]". */
const nestedJson = (depth: number) => text("[".repeat(depth) + "]".repeat(depth));

function callByName(connection: { request(cmd: number, payload: Uint8Array): Promise<{ payload: Uint8Array }> }, name: string, body: Uint8Array) {
  return connection.request(PROCEDURE_CMD, withPrefix(namePrefix(name), body));
}

describe("the nesting limit on typed inputs", () => {
  test("a million levels of JSON: invalid_argument before parsing or validation, while another call on the connection succeeds", async () => {
    const t = await typedPair(routes);
    lazyCalls = 0;
    const deep = callByName(t.client, "tree", nestedJson(1_000_000)).catch((error) => error);
    const other = t.api.ok();
    const error = await deep;
    expect(error instanceof RpcError && error.code).toBe("invalid_argument");
    expect((error as RpcError).message).toBe('input of "tree" nests deeper than 64 levels (the server\'s maxDepth)');
    expect(await other).toBe("ok");
    expect(lazyCalls).toBe(0); // the schema never saw it
    await t.close();
  });

  test("64 levels pass, 65 do not (the default limit)", async () => {
    const t = await typedPair(routes);
    const reply = await callByName(t.client, "tree", nestedJson(64));
    expect(new TextDecoder().decode(reply.payload)).toBe("64");
    const error = await callByName(t.client, "tree", nestedJson(65)).catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("invalid_argument");
    await t.close();
  });

  test("brackets inside strings do not count", async () => {
    const t = await typedPair(routes);
    const body = JSON.stringify({ text: `${"[{".repeat(500)}\\"[` });
    expect(await callByName(t.client, "note", text(body)).then((r) => new TextDecoder().decode(r.payload))).toBe(String(JSON.parse(body).text.length));
    await t.close();
  });

  test("serve(..., { maxDepth }) sets the limit", async () => {
    const t = await typedPair(routes, { serve: { maxDepth: 500 } });
    expect(new TextDecoder().decode((await callByName(t.client, "tree", nestedJson(500))).payload)).toBe("500");
    const error = await callByName(t.client, "tree", nestedJson(501)).catch((e) => e);
    expect((error as RpcError).message).toContain("nests deeper than 500 levels");
    await t.close();
  });

  test("each item of a request stream is held to it", async () => {
    const t = await typedPair(routes);
    const call = t.client.call(PROCEDURE_CMD);
    await call.send(namePrefix("trees"));
    await call.send(nestedJson(3));
    await call.end(nestedJson(100));
    const error = await call.response.catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("invalid_argument");
    expect((error as RpcError).message).toContain('input item of "trees" nests deeper than 64 levels');
    expect(await t.api.ok()).toBe("ok");
    await t.close();
  });

  test("over MessagePack too: a deep value is refused before validation", async () => {
    const t = await typedPair(routes, { client: { codec: "msgpack" } });
    expect(await t.api.ok()).toBe("ok"); // the codec is agreed
    lazyCalls = 0;
    // 0x91: an array of one; 0x90: the empty array at the bottom.
    const deep = new Uint8Array(100).fill(0x91);
    deep[99] = 0x90;
    const error = await callByName(t.client, "tree", deep).catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("invalid_argument");
    expect((error as RpcError).message).toContain("nests deeper than 64 levels");
    expect(lazyCalls).toBe(0);
    await t.close();
  });
});

describe("jsonNestsDeeperThan", () => {
  const deeper = (json: string, max: number) => jsonNestsDeeperThan(text(json), max);
  test("counts arrays and objects together", () => {
    expect(deeper('{"a":[{"b":[1]}]}', 4)).toBe(false);
    expect(deeper('{"a":[{"b":[1]}]}', 3)).toBe(true);
  });
  test("siblings do not add up", () => {
    expect(deeper("[[],[],[],[],[],[],[],[],[],[]]", 2)).toBe(false);
  });
  test("escaped quotes do not end a string early", () => {
    expect(deeper(`["\\"[[[[[[", 1]`, 1)).toBe(false);
    expect(deeper(`["\\\\", [[[1]]]]`, 3)).toBe(true);
  });
  test("invalid text is only scanned, not judged", () => {
    expect(deeper("[[[[", 3)).toBe(true);
    expect(deeper("]]]][[", 3)).toBe(false);
  });
});
