/**
 * Resumable reply streams. A handler tags items with an id (`yield tracked(id, item)`, as
 * tRPC's `tracked()`); the client remembers the id of the last item it delivered, and when
 * the connection is lost it calls again with that id in `last-event-id` metadata, which the
 * handler reads as `ctx.lastEventId` to go on from there. With a channel (which reconnects)
 * the caller's `for await` just continues: nothing twice, nothing skipped, when the handler
 * honours the id.
 *
 * On the wire (weft peers only): the reply's first frame carries metadata `weft-tracked: 1`,
 * and every item frame of that reply starts with `u8 n` and the id's UTF-8 bytes (n may be
 * 0: an item without an id), then the encoded item. A plain qrpc peer gets plain items.
 */

/** Reply metadata that marks a tracked reply stream. */
export const TRACKED_KEY = "weft-tracked";
/** Request metadata with the id of the last item the caller received. */
export const LAST_EVENT_ID = "last-event-id";

/** An item with its id, as a handler yields it. */
export class Tracked<T> {
  readonly id: string;
  readonly data: T;
  constructor(id: string, data: T) {
    this.id = id;
    this.data = data;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Tags `data` with `id` (at most 255 UTF-8 bytes): a resumed call starts after it. */
export function tracked<T>(id: string, data: T): Tracked<T> {
  if (typeof id !== "string") throw new TypeError(`a tracked item's id must be a string, got ${typeof id}`);
  if (encoder.encode(id).length > 255) throw new RangeError(`a tracked item's id is at most 255 bytes, got "${id.slice(0, 40)}…"`);
  return new Tracked(id, data);
}

/** The id's prefix for an item frame: its length in one byte, then its bytes. */
export function idPrefix(id: string): Uint8Array {
  const bytes = encoder.encode(id);
  const prefix = new Uint8Array(1 + bytes.length);
  prefix[0] = bytes.length;
  prefix.set(bytes, 1);
  return prefix;
}

/** An item frame of a tracked reply: its id ("" when it has none) and where the item starts. */
export function readIdPrefix(payload: Uint8Array): { id: string; offset: number } {
  const length = payload.length > 0 ? payload[0] : 0;
  if (payload.length < 1 + length) throw new RangeError("a tracked item's frame is shorter than its id");
  return { id: decoder.decode(payload.subarray(1, 1 + length)), offset: 1 + length };
}
