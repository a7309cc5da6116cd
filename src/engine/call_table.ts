/**
 * Calls in flight by id: those a connection waits on, and the requests it serves. A Map
 * would do, but every call sets and deletes a
 * key that is never used again, and V8's Map pays for that churn in rehashing and garbage.
 * Ids of one side step by 2, so live calls spread over a ring of slots indexed by id / 2;
 * a call whose slot is taken (one living for more than SLOTS later calls: a stream) goes to
 * an overflow Map. Lookups try the slot, then the Map only while it holds anything.
 */
import type { RequestId } from "../wire/frame.ts";

/** A power of two, well above the calls a connection keeps in flight. */
const SLOTS = 1024;
const MASK = SLOTS - 1;

export class CallTable<T> {
  readonly #ids: (RequestId | undefined)[] = new Array(SLOTS);
  readonly #values: (T | undefined)[] = new Array(SLOTS);
  readonly #overflow = new Map<RequestId, T>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  set(id: RequestId, value: T): void {
    const slot = slotOf(id);
    if (this.#ids[slot] === undefined) {
      this.#ids[slot] = id;
      this.#values[slot] = value;
    } else this.#overflow.set(id, value);
    this.#size++;
  }

  get(id: RequestId): T | undefined {
    const slot = slotOf(id);
    if (this.#ids[slot] === id) return this.#values[slot];
    return this.#overflow.size === 0 ? undefined : this.#overflow.get(id);
  }

  delete(id: RequestId): boolean {
    const slot = slotOf(id);
    if (this.#ids[slot] === id) {
      this.#ids[slot] = undefined;
      this.#values[slot] = undefined;
      this.#size--;
      return true;
    }
    if (this.#overflow.size !== 0 && this.#overflow.delete(id)) {
      this.#size--;
      return true;
    }
    return false;
  }

  values(): T[] {
    const all: T[] = [];
    for (let slot = 0; slot < SLOTS; slot++) if (this.#ids[slot] !== undefined) all.push(this.#values[slot]!);
    for (const value of this.#overflow.values()) all.push(value);
    return all;
  }

  clear(): void {
    this.#ids.fill(undefined);
    this.#values.fill(undefined);
    this.#overflow.clear();
    this.#size = 0;
  }
}

function slotOf(id: RequestId): number {
  return typeof id === "number" ? Math.floor(id / 2) & MASK : Number((id >> 1n) & BigInt(MASK));
}
