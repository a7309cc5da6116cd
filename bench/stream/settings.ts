/**
 * The stream bench's own settings (BENCH_STREAMS, BENCH_STREAM_LEN, BENCH_STREAM_CANCEL,
 * BENCH_BULK_INFLIGHT, BENCH_BULK_SIZE) and the bounds derived from them; the shared ones
 * (BENCH_SECONDS, ...) with the socket benches' defaults.
 */
import process from "node:process";
import { envNumber, readSettings, SOCKET_DEFAULTS } from "../harness/settings.ts";

export const settings = readSettings(SOCKET_DEFAULTS);
/** The "many" concurrent-stream count. */
export const STREAMS = Math.floor(envNumber(process.env.BENCH_STREAMS, 4));
/** Break out of streams at the slice's end (resets) instead of reading each one to its end. */
export const CANCEL = process.env.BENCH_STREAM_CANCEL === "1";
/** Messages each stream asks for. */
export const STREAM_LEN = Math.min(
  0xffffffff,
  Math.floor(envNumber(process.env.BENCH_STREAM_LEN, CANCEL ? 1_000_000 : 100_000)),
);
/** The "many" in-flight count of the 1 MiB echo. */
export const BULK_INFLIGHT = Math.floor(envNumber(process.env.BENCH_BULK_INFLIGHT, 4));
/** Payload bytes of the bulk echo. */
export const BULK_SIZE = Math.min(10 * 1024 * 1024 - 12, Math.floor(envNumber(process.env.BENCH_BULK_SIZE, 1024 * 1024)));
/** How long a slice may overrun before it counts as stalled: 10 s, plus one stream at 50 k messages/s. */
export const STREAM_SLACK_MS = 10_000 + STREAM_LEN / 50;
export const MiB = 1024 * 1024;
