/**
 * The engine's table of calls in flight (src/engine/call_table.ts): a ring of slots by id / 2,
 * and an overflow Map for an id whose slot is taken. It must behave as a Map would.
 */
import { describe, expect, test } from "bun:test";
import { CallTable } from "../src/engine/call_table.ts";
import { Random } from "./support/random.ts";

describe("CallTable", () => {
  test("set, get, delete and size, for a client's ids 3, 5, 7, ...", () => {
    const table = new CallTable<string>();
    for (let id = 3; id < 3 + 2 * 100; id += 2) table.set(id, `call ${id}`);
    expect(table.size).toBe(100);
    expect(table.get(51)).toBe("call 51");
    expect(table.get(52)).toBeUndefined();
    expect(table.delete(51)).toBe(true);
    expect(table.delete(51)).toBe(false);
    expect(table.get(51)).toBeUndefined();
    expect(table.size).toBe(99);
  });

  test("an id whose slot is taken by a long-lived call goes to the overflow, and both stay reachable", () => {
    const table = new CallTable<string>();
    table.set(3, "stream"); // slot 1
    table.set(3 + 2 * 1024, "later call, same slot");
    expect(table.get(3)).toBe("stream");
    expect(table.get(3 + 2 * 1024)).toBe("later call, same slot");
    expect(table.size).toBe(2);
    expect(table.delete(3)).toBe(true);
    expect(table.get(3 + 2 * 1024)).toBe("later call, same slot"); // still in the overflow
    expect(table.delete(3 + 2 * 1024)).toBe(true);
    expect(table.size).toBe(0);
  });

  test("ids past 2^32 and 2^53 (bigint) work", () => {
    const table = new CallTable<string>();
    table.set(2 ** 40 + 1, "big");
    table.set(2n ** 60n + 1n, "bigint");
    expect(table.get(2 ** 40 + 1)).toBe("big");
    expect(table.get(2n ** 60n + 1n)).toBe("bigint");
    expect(table.get(2n ** 60n + 3n)).toBeUndefined();
    expect(table.values().sort()).toEqual(["big", "bigint"]);
  });

  test("values() holds every live entry, slots and overflow; clear() empties it", () => {
    const table = new CallTable<number>();
    for (let i = 0; i < 3000; i++) table.set(2 * i + 1, i); // wraps the ring: 1024 in slots, the rest overflow
    expect(table.size).toBe(3000);
    expect(table.values().sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    table.clear();
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
    expect(table.get(1)).toBeUndefined();
  });

  test("agrees with a Map through 20,000 random sets and deletes", () => {
    const rng = new Random(7);
    const random = () => rng.next();
    const table = new CallTable<number>();
    const map = new Map<number, number>();
    let next = 1;
    for (let step = 0; step < 20_000; step++) {
      if (map.size === 0 || random() < 0.55) {
        const id = random() < 0.05 ? Math.floor(random() * 10_000) : (next += 2);
        if (map.has(id)) continue; // a connection never reuses a live id
        table.set(id, step);
        map.set(id, step);
      } else {
        const keys = [...map.keys()];
        const id = keys[Math.floor(random() * keys.length)];
        expect(table.delete(id)).toBe(map.delete(id));
      }
      if (step % 997 === 0) {
        for (const [id, value] of map) expect(table.get(id)).toBe(value);
        expect(table.size).toBe(map.size);
      }
    }
    expect(table.values().sort((a, b) => a - b)).toEqual([...map.values()].sort((a, b) => a - b));
  });

  test("no ring until the first call, then 16 slots, growing only while calls crowd it", () => {
    const table = new CallTable<number>();
    expect([table.slots, table.get(1), table.delete(1), table.values()]).toEqual([0, undefined, false, []]);
    // One long-lived stream and 5,000 calls one at a time: an idle-looking table stays small.
    table.set(1, -1);
    for (let i = 1; i <= 5000; i++) {
      table.set(2 * i + 1, i);
      expect(table.get(2 * i + 1)).toBe(i);
      expect(table.delete(2 * i + 1)).toBe(true);
    }
    expect(table.slots).toBe(16);
    expect(table.get(1)).toBe(-1);
    // 64 calls in flight, sliding: the ring grows to hold them, and not past 1024.
    let id = 20_001;
    const live: number[] = [];
    for (let i = 0; i < 5000; i++) {
      table.set(id, id);
      live.push(id);
      id += 2;
      if (live.length > 64) expect(table.delete(live.shift()!)).toBe(true);
    }
    expect(table.slots).toBeGreaterThanOrEqual(64);
    expect(table.slots).toBeLessThanOrEqual(256);
    for (const each of live) expect(table.get(each)).toBe(each);
    expect(table.get(1)).toBe(-1);
    for (let i = 0; i < 4000; i++) table.set(100_001 + 2 * i, i);
    expect(table.slots).toBe(1024);
    expect(table.size).toBe(1 + 64 + 4000);
    table.clear();
    expect(table.slots).toBe(16);
  });
});
