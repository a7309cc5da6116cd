/** The payload codecs on their own: raw, json, msgpack, and the registry. */
import { describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { Packr } from "msgpackr";
import { type Codec, CodecError, codecNamed, codecs, json, msgpack, raw } from "../src/codec/codec.ts";
import { hex, patterned, text, toHex } from "./support/bytes.ts";

/** A Uint8Array subclass, as a Node/Bun Buffer is: it must travel as bytes and come back plain. */
class SubBytes extends Uint8Array {}

/** `bytes` as a view in the middle of a larger buffer, as a frame's payload is. */
function embedded(bytes: Uint8Array): Uint8Array {
  const big = new Uint8Array(bytes.length + 37);
  big.fill(0xc1); // 0xc1 around the payload: a decoder that reads past its view would notice
  big.set(bytes, 17);
  return new Uint8Array(big.buffer, 17, bytes.length);
}

/** What `fn` throws (fails the test if it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

/** Every way `bytes` can be cut short, and `bytes` with one byte too many. */
function truncations(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = 0; n < bytes.length; n++) out.push(bytes.slice(0, n));
  return out;
}

/** Values every codec that carries structured data must round-trip (JSON included). */
const JSON_SHAPES: Record<string, unknown> = {
  null: null,
  true: true,
  false: false,
  zero: 0,
  "small int": 7,
  "negative int": -12345,
  "2^31": 2 ** 31,
  "2^32 + 1": 2 ** 32 + 1,
  "max safe int": Number.MAX_SAFE_INTEGER,
  "min safe int": Number.MIN_SAFE_INTEGER,
  float: 1.5,
  "negative float": -0.000123,
  "big float": 1.7976931348623157e308,
  "empty string": "",
  ascii: "hello",
  unicode: "héllo wörld ✓ 日本語 😀",
  "a real U+FFFD": "before \uFFFD after",
  "31 chars": "x".repeat(31),
  "32 chars": "x".repeat(32),
  "255 chars": "y".repeat(255),
  "256 chars": "y".repeat(256),
  "65536 chars": "z".repeat(65536),
  "empty array": [],
  "empty object": {},
  array: [1, "two", null, true, 4.5, [6, [7]], { eight: 8 }],
  "16-element array": Array.from({ length: 16 }, (_, i) => i),
  "65536-element array": Array.from({ length: 65536 }, (_, i) => i % 300),
  "16-key object": Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
  nested: { id: 12345, method: "users.get", params: { name: "ada", active: true, tags: ["a", "b"], meta: { deep: { deeper: [{}] } } } },
  "list reply": Array.from({ length: 100 }, (_, i) => ({ id: i, name: `user-${i}`, active: i % 2 === 0, score: i / 4 })),
  "odd keys": { "": 1, "with space": 2, "ünï": 3, "1": 4, constructor: 5, toString: "six" },
};

describe("codec registry", () => {
  test("has raw, json and msgpack under their wire names", () => {
    expect(Object.keys(codecs).sort()).toEqual(["json", "msgpack", "raw"]);
    for (const [name, codec] of Object.entries(codecs)) expect(codec.name).toBe(name);
    expect(codecs.raw).toBe(raw);
    expect(codecs.json).toBe(json);
    expect(codecs.msgpack).toBe(msgpack);
  });

  test("codecNamed finds the known names", () => {
    expect(codecNamed("raw")).toBe(raw);
    expect(codecNamed("json")).toBe(json);
    expect(codecNamed("msgpack")).toBe(msgpack);
  });

  test("codecNamed returns undefined for unknown names, inherited names included", () => {
    for (const name of ["", "cbor", "JSON", "msgpack ", "protobuf", "toString", "__proto__", "constructor", "hasOwnProperty"]) {
      expect(codecNamed(name)).toBeUndefined();
    }
  });
});

describe("raw codec", () => {
  test("passes bytes through untouched, both ways, without copying", () => {
    const bytes = patterned(100);
    expect(raw.encode(bytes)).toBe(bytes);
    expect(raw.decode(bytes)).toBe(bytes);
    const view = embedded(bytes);
    expect(raw.decode(view)).toBe(view);
    const empty = new Uint8Array(0);
    expect(raw.encode(empty)).toBe(empty);
  });

  test("accepts Uint8Array subclasses (Buffer)", () => {
    const sub = new SubBytes([1, 2, 3]);
    expect(raw.encode(sub)).toBe(sub);
    const buffer = Buffer.from([4, 5, 6]);
    expect(raw.encode(buffer)).toBe(buffer);
  });

  test("refuses anything but a Uint8Array with a TypeError naming what it got", () => {
    const cases: [unknown, string][] = [
      ["text", "string"],
      [42, "number"],
      [null, "null"],
      [undefined, "undefined"],
      [true, "boolean"],
      [[1, 2, 3], "array"],
      [{ a: 1 }, "object"],
      [new ArrayBuffer(4), "ArrayBuffer"],
      [new Uint16Array(2), "Uint16Array"],
      [new Int8Array(2), "Int8Array"],
      [new DataView(new ArrayBuffer(2)), "DataView"],
      [new Map(), "Map"],
      [() => 1, "function"],
      [10n, "bigint"],
    ];
    for (const [value, type] of cases) {
      const error = thrown(() => raw.encode(value));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain("raw codec");
      expect(error.message).toContain(`got ${type}`);
    }
    expect(thrown(() => raw.encode(new ArrayBuffer(1))).message).toContain("new Uint8Array(buffer)");
  });
});

describe("json codec", () => {
  test("round-trips every JSON value shape", () => {
    for (const [name, value] of Object.entries(JSON_SHAPES)) {
      const encoded = json.encode(value);
      expect(encoded).toBeInstanceOf(Uint8Array);
      const decoded = json.decode(encoded);
      if (!Object.is(decoded, value)) expect([name, decoded]).toStrictEqual([name, value]);
    }
  });

  test("writes exactly JSON.stringify's text in UTF-8", () => {
    const value = JSON_SHAPES.nested;
    expect(toHex(json.encode(value))).toBe(toHex(text(JSON.stringify(value))));
    expect(toHex(json.encode("é✓😀"))).toBe(toHex(text('"é✓😀"')));
    expect(json.decode(embedded(text('{"a":[1,2]}')))).toEqual({ a: [1, 2] });
  });

  test("follows JSON's own rules for Date, toJSON and undefined properties", () => {
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    expect(json.decode(json.encode({ date }))).toEqual({ date: "2024-01-02T03:04:05.006Z" });
    const custom = { toJSON: () => ({ shown: true }) };
    expect(json.decode(json.encode({ custom }))).toEqual({ custom: { shown: true } });
    expect(json.decode(json.encode({ a: 1, gone: undefined }))).toStrictEqual({ a: 1 });
    expect(json.decode(json.encode([undefined]))).toStrictEqual([null]);
  });

  test("refuses a Uint8Array at the top, in objects and in arrays, pointing at msgpack", () => {
    const cases: [unknown, string][] = [
      [new Uint8Array([1, 2]), "as the value itself"],
      [{ params: { data: new Uint8Array(4) } }, "at params.data"],
      [{ items: [1, { blob: new Uint8Array(1) }] }, "at items[1].blob"],
      [[0, [new Uint8Array(0)]], "at [1][0]"],
      [{ "odd key": new Uint8Array(1) }, 'at ["odd key"]'],
      [{ buf: Buffer.from("hi") }, "at buf"],
      [{ sub: new SubBytes(2) }, "at sub"],
      [{ ab: new ArrayBuffer(2) }, "at ab"],
      [{ view: new DataView(new ArrayBuffer(2)) }, "at view"],
      [{ floats: new Float64Array(1) }, "at floats"],
    ];
    for (const [value, where] of cases) {
      const error = thrown(() => json.encode(value));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain("json codec");
      expect(error.message).toContain("cannot travel in JSON");
      expect(error.message).toContain('"msgpack"');
      expect(error.message).toContain(where);
      expect(error.message).not.toContain("base64");
    }
  });

  test("refuses bytes the quick walk cannot see: behind toJSON, past 64 levels", () => {
    const hidden = { wrapper: { toJSON: () => ({ data: new Uint8Array(3) }) } };
    const e1 = thrown(() => json.encode(hidden));
    expect(e1).toBeInstanceOf(TypeError);
    expect(e1.message).toContain('"msgpack"');
    expect(e1.message).toContain('at key "data"');

    let deep: unknown = { data: new Uint8Array(1) };
    for (let i = 0; i < 100; i++) deep = { next: deep };
    const e2 = thrown(() => json.encode(deep));
    expect(e2).toBeInstanceOf(TypeError);
    expect(e2.message).toContain('"msgpack"');

    let deepOk: unknown = { end: true };
    for (let i = 0; i < 100; i++) deepOk = [deepOk];
    expect(json.decode(json.encode(deepOk))).toEqual(deepOk);
  });

  test("refuses what JSON cannot hold with a TypeError", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    for (const value of [cyclic, 1n, { big: 2n }, undefined, () => 1, Symbol("s")]) {
      const error = thrown(() => json.encode(value));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain("json codec");
    }
  });

  test("decoding invalid JSON throws a CodecError saying so", () => {
    const bad = ["", "{", "nul", "[1,]", "{'a':1}", "1 2", "undefined", '"unterminated', "\u0000"];
    for (const source of bad) {
      const error = thrown(() => json.decode(text(source)));
      expect(error).toBeInstanceOf(CodecError);
      expect((error as CodecError).codec).toBe("json");
      expect(error.message).toContain("not valid JSON");
    }
  });

  test("decoding bytes that are not UTF-8 throws, even inside a string", () => {
    for (const bytes of [hex("ff fe"), hex("22 ff 22"), hex("22 c3 28 22"), hex("22 ed a0 80 22")]) {
      const error = thrown(() => json.decode(bytes));
      expect(error).toBeInstanceOf(CodecError);
      expect(error.message).toContain("not valid JSON");
      expect(error.message).toContain("UTF-8");
    }
  });
});

describe("msgpack codec", () => {
  test("round-trips every JSON value shape", () => {
    for (const [name, value] of Object.entries(JSON_SHAPES)) {
      const decoded = msgpack.decode(msgpack.encode(value));
      if (!Object.is(decoded, value)) expect([name, decoded]).toStrictEqual([name, value]);
    }
  });

  test("round-trips what JSON cannot: NaN, Infinity, undefined, Date, bigint, integer edges", () => {
    const values: unknown[] = [
      NaN,
      Infinity,
      -Infinity,
      undefined,
      [undefined, null],
      new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)),
      2n ** 60n,
      -(2n ** 60n),
      2n ** 64n - 1n,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -(2 ** 31),
      -(2 ** 31) - 1,
    ];
    for (const value of values) {
      const decoded = msgpack.decode(msgpack.encode(value));
      expect(decoded).toStrictEqual(value);
    }
  });

  test("64-bit integers within 2^53 decode as numbers (a peer that always writes int64)", () => {
    expect(msgpack.decode(hex("d3 00 00 00 00 00 00 00 05"))).toBe(5);
    expect(msgpack.decode(hex("cf 00 00 00 00 00 00 01 00"))).toBe(256);
    expect(msgpack.decode(hex("d3 ff ff ff ff ff ff ff ff"))).toBe(-1);
    expect(msgpack.decode(hex("cf ff ff ff ff ff ff ff ff"))).toBe(2n ** 64n - 1n);
  });

  test("a Uint8Array travels as bin: encoded size is its length plus a small header", () => {
    for (const size of [0, 1, 31, 255, 256, 4096, 65535, 65536, 1 << 20]) {
      const bytes = patterned(size, size + 1);
      const encoded = msgpack.encode(bytes);
      const header = size < 256 ? 2 : size < 65536 ? 3 : 5;
      expect(encoded.length).toBe(size + header);
      expect(encoded[0]).toBe(size < 256 ? 0xc4 : size < 65536 ? 0xc5 : 0xc6);
      const decoded = msgpack.decode(encoded) as Uint8Array;
      expect(decoded).toBeInstanceOf(Uint8Array);
      expect(decoded.constructor).toBe(Uint8Array);
      expect(decoded.length).toBe(size);
      expect(toHex(decoded)).toBe(toHex(bytes));
    }
  });

  test("Uint8Arrays nested in objects and arrays come back as plain Uint8Arrays with equal bytes", () => {
    const a = patterned(4096, 7);
    const b = patterned(3, 9);
    const value = {
      id: 1,
      params: { name: "photo.jpg", data: a, parts: [b, { inner: new Uint8Array(0) }, [a]] },
      buffer: Buffer.from([1, 2, 3]),
      sub: new SubBytes([4, 5]),
    };
    const encoded = msgpack.encode(value);
    // No base64 and no object-of-indices: two copies of 4 KiB plus small change.
    expect(encoded.length).toBeLessThan(2 * 4096 + 150);
    const decoded = msgpack.decode(embedded(encoded)) as typeof value;
    const bytesAt = [decoded.params.data, decoded.params.parts[0], (decoded.params.parts[1] as { inner: Uint8Array }).inner,
      (decoded.params.parts[2] as Uint8Array[])[0], decoded.buffer, decoded.sub];
    for (const bytes of bytesAt) {
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect((bytes as Uint8Array).constructor).toBe(Uint8Array);
    }
    expect(toHex(decoded.params.data)).toBe(toHex(a));
    expect(toHex(decoded.params.parts[0] as Uint8Array)).toBe(toHex(b));
    expect((decoded.params.parts[1] as { inner: Uint8Array }).inner.length).toBe(0);
    expect(toHex((decoded.params.parts[2] as Uint8Array[])[0])).toBe(toHex(a));
    expect(toHex(decoded.buffer)).toBe("010203");
    expect(toHex(decoded.sub)).toBe("0405");
    expect(decoded as unknown).toEqual({ ...value, buffer: new Uint8Array([1, 2, 3]), sub: new Uint8Array([4, 5]) });
  });

  test("encodes to a plain Uint8Array and leaves the caller's payload object alone", () => {
    const encoded = msgpack.encode({ a: 1 });
    expect(encoded.constructor).toBe(Uint8Array);
    const payload = embedded(msgpack.encode({ b: [1, 2] }));
    expect(msgpack.decode(payload)).toEqual({ b: [1, 2] });
    expect(Object.keys(payload).filter((k) => !/^\d+$/.test(k))).toEqual([]);
    expect("dataView" in payload).toBe(false);
  });

  test("writes standard MessagePack: plain maps, str and bin, readable by any library", () => {
    // No msgpackr records (ext 0x72) for objects, even many of the same shape.
    const many = Array.from({ length: 10 }, (_, i) => ({ id: i, name: "n" }));
    const encoded = msgpack.encode(many);
    expect(encoded[0]).toBe(0x9a); // fixarray of 10
    for (let i = 0; i + 1 < encoded.length; i++) {
      if (encoded[i] === 0xd4 || encoded[i] === 0xd5) expect(encoded[i + 1]).not.toBe(0x72);
    }
    expect(toHex(msgpack.encode({ a: 1 }))).toMatch(/^(81|de0001)a16101$/);
    expect(toHex(msgpack.encode("hi"))).toBe("a26869");
    expect(toHex(msgpack.encode(new Uint8Array([9])))).toBe("c40109");
  });

  test("reads MessagePack written by other libraries (fixmap, str8, bin8, float32, int64)", () => {
    expect(msgpack.decode(hex("82 a2 6964 01 a4 6e616d65 a3 616461"))).toEqual({ id: 1, name: "ada" });
    const mixed = msgpack.decode(hex("94 01 d9 01 62 c4 02 0102 ca 3fc00000")) as unknown[];
    expect(mixed[0]).toBe(1);
    expect(mixed[1]).toBe("b");
    expect(mixed[2]).toBeInstanceOf(Uint8Array);
    expect(toHex(mixed[2] as Uint8Array)).toBe("0102");
    expect(mixed[3]).toBe(1.5);
    expect(msgpack.decode(hex("c0"))).toBeNull();
  });

  test("reads records from a msgpackr peer that uses them", () => {
    const peer = new Packr(); // msgpackr's defaults: records on
    const many = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `u${i}`, ok: i % 2 === 0 }));
    expect(msgpack.decode(peer.pack(many))).toEqual(many);
  });

  test("never generates code, and records from a peer still decode where code generation is refused", () => {
    const realFunction = globalThis.Function;
    let attempts = 0;
    const refusing = new Proxy(realFunction, {
      construct() {
        attempts++;
        throw new EvalError("Code generation from strings disallowed for this context");
      },
      apply() {
        attempts++;
        throw new EvalError("Code generation from strings disallowed for this context");
      },
    });
    const many = Array.from({ length: 50 }, (_, i) => ({ id: i, name: `u${i}`, tags: ["x"], blob: new Uint8Array([i]) }));
    const fromPeer = new Packr().pack(many.map(({ id, name }) => ({ id, name })));
    (globalThis as { Function: unknown }).Function = refusing;
    try {
      for (let round = 0; round < 5; round++) expect(msgpack.decode(msgpack.encode(many))).toEqual(many);
      expect(attempts).toBe(0);
      for (let round = 0; round < 5; round++) {
        expect(msgpack.decode(fromPeer)).toEqual(many.map(({ id, name }) => ({ id, name })));
      }
      expect(attempts).toBeGreaterThan(0); // msgpackr tried to compile a record reader, and fell back
    } finally {
      (globalThis as { Function: unknown }).Function = realFunction;
    }
  });

  test("does not let a __proto__ key reach the prototype", () => {
    // {"__proto__": {"polluted": true}}
    const decoded = msgpack.decode(hex("81 a9 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 c3")) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect((decoded as { polluted?: unknown }).polluted).toBeUndefined();
  });

  test("refuses to encode a bigint past 64 bits with a TypeError, and keeps working after", () => {
    const error = thrown(() => msgpack.encode({ n: 2n ** 70n }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("msgpack codec");
    expect(msgpack.decode(msgpack.encode({ after: [1, "x"] }))).toEqual({ after: [1, "x"] });
  });

  test("truncated input throws a CodecError at every cut", () => {
    const value = { id: 12345, method: "users.get", params: { name: "ada", data: patterned(300), list: [1, 2.5, "x"] } };
    const encoded = msgpack.encode(value);
    for (const cut of truncations(encoded)) {
      const error = thrown(() => msgpack.decode(cut));
      expect(error).toBeInstanceOf(CodecError);
      expect((error as CodecError).codec).toBe("msgpack");
      expect(error.message).toContain("not valid MessagePack");
    }
    expect(thrown(() => msgpack.decode(new Uint8Array(0))).message).toContain("it is empty");
  });

  test("bytes left over after the value throw, without the payload in the message", () => {
    const encoded = msgpack.encode({ secret: "hunter2" });
    const longer = new Uint8Array(encoded.length + 1);
    longer.set(encoded);
    const error = thrown(() => msgpack.decode(longer));
    expect(error).toBeInstanceOf(CodecError);
    expect(error.message).toContain("left over");
    expect(error.message).not.toContain("hunter2");
  });

  test("corrupt input throws a CodecError: 0xc1, unknown extensions, impossible lengths", () => {
    const bad = [
      "c1", // never used
      "92 01 c1", // ... nested in an array
      "81 a1 61 c1", // ... as a map value
      "93 c4 01 c1 c1 01", // ... after a bin that holds 0xc1
      "d4 33 00", // unknown extension type 0x33
      "c7 02 33 0000", // ext8 of an unknown type
      "dd ffffffff", // array32 of 4 billion items, then nothing
      "dd 7fffffff 01", // array32 of 2 billion items, then one
      "df ffffffff", // map32
      "db ffffffff 61", // str32 past the end
      "c6 ffffffff 61", // bin32 past the end
      "dc ffff", // array16 with nothing after
      "91 91 91 91", // arrays that end early
    ];
    for (const source of bad) {
      const started = performance.now();
      const error = thrown(() => msgpack.decode(hex(source)));
      expect(error).toBeInstanceOf(CodecError);
      expect(error.message).toContain("not valid MessagePack");
      expect(performance.now() - started).toBeLessThan(1000);
    }
    expect(thrown(() => msgpack.decode(hex("c1"))).message).toContain("0xc1");
  });

  test("finds 0xc1 deep in a large payload, and lets 0xc1 inside binary data through", () => {
    const blob = new Uint8Array(3000).fill(0xc1);
    const good = msgpack.encode({ list: [1, { blob }, "x".repeat(2000)] });
    const decoded = msgpack.decode(good) as { list: [number, { blob: Uint8Array }, string] };
    expect(toHex(decoded.list[1].blob)).toBe(toHex(blob));
    // [bin16 of 3000 bytes, [1, {"a": 0xc1}]]
    const bad = new Uint8Array(3 + 1 + 3000 + 6);
    bad.set(hex("92 c5 0bb8"));
    bad.set(hex("92 01 81 a1 61 c1"), 4 + 3000);
    const error = thrown(() => msgpack.decode(bad));
    expect(error).toBeInstanceOf(CodecError);
    expect(error.message).toContain("0xc1");
  });

  test("random bytes either decode or throw a CodecError, never hang", () => {
    const started = performance.now();
    let threw = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const bytes = patterned(1 + (seed % 48), seed);
      try {
        msgpack.decode(bytes);
      } catch (error) {
        threw++;
        if (!(error instanceof CodecError)) throw error;
      }
    }
    expect(threw).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  test("flipping any byte of a message either decodes or throws a CodecError", () => {
    const encoded = msgpack.encode({ id: 7, method: "x.y", params: [1, "two", { three: new Uint8Array([3]) }] });
    for (let i = 0; i < encoded.length; i++) {
      for (const flip of [0x01, 0x10, 0x80, 0xff]) {
        const bytes = encoded.slice();
        bytes[i] ^= flip;
        try {
          msgpack.decode(bytes);
        } catch (error) {
          if (!(error instanceof CodecError)) throw error;
        }
      }
    }
  });
});

describe("every codec", () => {
  const all: [string, Codec, unknown][] = [
    ["raw", raw, patterned(64)],
    ["json", json, JSON_SHAPES.nested],
    ["msgpack", msgpack, { ...(JSON_SHAPES.nested as object), blob: patterned(64) }],
  ];

  test("decodes a payload that is a view inside a larger buffer", () => {
    for (const [, codec, value] of all) {
      expect(codec.decode(embedded(codec.encode(value)))).toEqual(value);
    }
  });

  test("corrupt and truncated input throws rather than returning garbage", () => {
    for (const [name, codec, value] of all) {
      if (name === "raw") continue; // raw has no format to violate
      for (const cut of truncations(codec.encode(value))) {
        expect(() => codec.decode(cut)).toThrow(CodecError);
      }
    }
  });
});
