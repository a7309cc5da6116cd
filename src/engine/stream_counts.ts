/**
 * Sums of `connection.streams` (StreamCounts, api.ts) over several connections: a channel's
 * endpoints, or a stats collector's connections open and closed.
 */
import type { StreamCounts } from "./api.ts";

/** All zero: where a sum starts. */
export function noStreams(): StreamCounts {
  return { open: 0, framesRead: 0, framesWritten: 0, creditWaits: 0, readPauses: 0 };
}

/** Adds `counts` into `sum` and returns `sum`. */
export function addStreams(sum: StreamCounts, counts: StreamCounts): StreamCounts {
  sum.open += counts.open;
  sum.framesRead += counts.framesRead;
  sum.framesWritten += counts.framesWritten;
  sum.creditWaits += counts.creditWaits;
  sum.readPauses += counts.readPauses;
  return sum;
}
