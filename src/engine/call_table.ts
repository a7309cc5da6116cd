/**
 * Calls in flight by id: those a connection waits on, and the requests it serves. A Map
 * would do, but every call sets and deletes a
 * key that is never used again, and V8's Map pays for that churn in rehashing and garbage.
 * Ids of one side step by 2, so live calls spread over a ring of slots indexed by id / 2;
 * a call whose slot is taken (one living for more than a ring's worth of later calls: a
 * stream) goes to an overflow Map. Lookups try the slot, then the Map only while it holds
 * anything.
 *
 * The ring starts small and doubles, up to MAX_SLOTS, only when a taken slot meets a ring
 * at least half full: an idle connection (a server may hold tens of thousands) keeps two
 * tables of MIN_SLOTS, while one with many calls in flight gets the room it uses.
 */
import type { RequestId } from "../wire/frame.ts";

/** Powers of two; MAX_SLOTS well above the calls a connection keeps in flight. */
const MIN_SLOTS = 16;
const MAX_SLOTS = 1024;

export class CallTable<T> {
  // No ring until the first call: an idle connection holds none (lookups find nothing in an empty one).
  #ids: (RequestId | undefined)[] = NO_SLOTS;
  #values: (T | undefined)[] = NO_SLOTS;
  #mask = 0;
  /** Made when a slot is first taken: most connections never need it. */
  #overflow: Map<RequestId, T> | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Slots in the ring now: its memory, which grows only while calls crowd it. */
  get slots(): number {
    return this.#ids.length;
  }

  set(id: RequestId, value: T): void {
    if (this.#ids === NO_SLOTS) this.clear();
    let slot = slotOf(id, this.#mask);
    while (this.#ids[slot] !== undefined && this.#mask < MAX_SLOTS - 1 && 2 * this.#size >= this.#mask) {
      this.#grow();
      slot = slotOf(id, this.#mask);
    }
    if (this.#ids[slot] === undefined) {
      this.#ids[slot] = id;
      this.#values[slot] = value;
    } else (this.#overflow ??= new Map()).set(id, value);
    this.#size++;
  }

  /** Doubles the ring. Two ids apart in it were apart in the old one, so none collide. */
  #grow(): void {
    const ids = this.#ids;
    const values = this.#values;
    const slots = 2 * ids.length;
    this.#ids = new Array(slots);
    this.#values = new Array(slots);
    this.#mask = slots - 1;
    for (let old = 0; old < ids.length; old++) {
      const id = ids[old];
      if (id === undefined) continue;
      const slot = slotOf(id, this.#mask);
      this.#ids[slot] = id;
      this.#values[slot] = values[old];
    }
  }

  get(id: RequestId): T | undefined {
    const slot = slotOf(id, this.#mask);
    if (this.#ids[slot] === id) return this.#values[slot];
    return this.#overflow === null ? undefined : this.#overflow.get(id);
  }

  delete(id: RequestId): boolean {
    const slot = slotOf(id, this.#mask);
    if (this.#ids[slot] === id) {
      this.#ids[slot] = undefined;
      this.#values[slot] = undefined;
      this.#size--;
      return true;
    }
    if (this.#overflow !== null && this.#overflow.delete(id)) {
      this.#size--;
      return true;
    }
    return false;
  }

  values(): T[] {
    const all: T[] = [];
    for (let slot = 0; slot < this.#ids.length; slot++) if (this.#ids[slot] !== undefined) all.push(this.#values[slot]!);
    if (this.#overflow !== null) for (const value of this.#overflow.values()) all.push(value);
    return all;
  }

  clear(): void {
    this.#ids = new Array(MIN_SLOTS);
    this.#values = new Array(MIN_SLOTS);
    this.#mask = MIN_SLOTS - 1;
    this.#overflow = null;
    this.#size = 0;
  }
}

/** The empty ring every table starts with (never written: `set` makes a real one first). */
const NO_SLOTS: never[] = [];

function slotOf(id: RequestId, mask: number): number {
  return typeof id === "number" ? Math.floor(id / 2) & mask : Number((id >> 1n) & BigInt(mask));
}
