/**
 * A graceful close's first step, toward a weft peer: GOAWAY, then a PING whose PONG fences
 * it. The peer answers frames in order, so once that PONG is back every request it sent
 * before it read GOAWAY has reached us (and was turned away, `unprocessed`, to be retried
 * elsewhere), and it sends no new ones. Only then may the byte stream end: a call racing the
 * GOAWAY is refused in words, never lost in a reset connection. (HTTP/2's double GOAWAY.)
 */
import { encodeControl, type GoAwayMessage, Op } from "../wire/control.ts";
import type { Link } from "./link.ts";
import type { Sender } from "./sender.ts";

/** The fencing PING's payload: "goaway". */
const FENCE = new Uint8Array([0x67, 0x6f, 0x61, 0x77, 0x61, 0x79]);

/**
 * The longest wait for the fence's PONG. A weft peer answers within a round trip (it read
 * our HELLO before the PING, so it has a version); one that never does, a qrpc client whose
 * unused bits happened to be set, costs the close this much and no more.
 */
const FENCE_WAIT_MS = 1000;

/** Sends GOAWAY; resolves when the peer has answered the PING behind it, or after FENCE_WAIT_MS. */
export function goAway(link: Link, sender: Sender): Promise<void> {
  sender.control(Op.GoAway, encodeControl({ reason: "closing" } satisfies GoAwayMessage));
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      link.onPong = null;
      resolve();
    };
    const timer = setTimeout(done, FENCE_WAIT_MS);
    link.onPong = (payload) => {
      if (payload.length === FENCE.length && FENCE.every((byte, i) => payload[i] === byte)) done();
    };
    sender.control(Op.Ping, FENCE);
  });
}
