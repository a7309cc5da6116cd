/**
 * Streaming and bulk benchmark: weft against raw TCP ceilings, on the runtime this file is
 * started with. Servers run in child processes (same runtime, 127.0.0.1, port 0); the
 * clients run here. `node bench/run.mjs --bench=stream` runs it on all three runtimes.
 *
 *   npx bun bench/stream.ts [--json]
 *   npx deno run -A bench/stream.ts [--json]
 *   node --import ./bench/harness/node_typescript.mjs bench/stream.ts [--json]        (from the repository root)
 *
 * 1. Server streaming (stream/messages.ts), 32-byte messages, one frame each, at 1 and at
 *    BENCH_STREAMS (4) concurrent streams on one connection.
 *    - weft: `conn.request(3, u32(n), { nonBlocking: true })` answered by an async generator
 *      handler that yields one 32-byte payload per message (servers/weft_tcp.ts); the
 *      client walks the reply with `for await`.
 *    - raw: servers/raw_stream.ts writes pre-encoded 48-byte frames (16 B header + 32 B
 *      payload, flags Stream, the request's id) in 48 KiB blocks as fast as the socket takes
 *      them; the client (reference/raw_stream_client.ts) parses every frame, routes it by id
 *      and counts it.
 *    Each stream asks for BENCH_STREAM_LEN messages (100,000) and is read to its end; each
 *    lane (one per concurrent stream) starts streams one after another until the slice is
 *    over, so a slice ends with its last stream (nothing is left in flight, and the CPU
 *    columns are exact). msgs/s = messages / time to the last one.
 *    With BENCH_STREAM_CANCEL=1 (BENCH_STREAM_LEN then defaults to 1,000,000) the client
 *    instead stops at the slice's end: weft breaks out of the `for await`, which resets the
 *    stream, then makes one echo call on the connection, whose reply follows every frame the
 *    server wrote before it saw the reset; raw sends resets and waits for the end frames the
 *    server answers them with. "cancel ms" is that wait per slice (not measured time): when
 *    it approaches the rest of the stream, the server did not read the reset until its
 *    stream was done. In this mode msgs/s counts messages up to the stop, and the CPU
 *    columns are approximate (the server's work on frames still in flight is included).
 *    MB/s is payload bytes (10^6); on the wire each message is 1.5x that.
 * 2. 1 MiB unary echo (stream/bulk.ts) at 1 and at BENCH_BULK_INFLIGHT (4) calls in flight
 *    on one connection.
 *    - weft: `conn.request(1, oneMiB, { nonBlocking: true })`, echoed by the cmd-1 handler.
 *    - raw: a 16-byte header then the 1 MiB payload (two writes, as weft's writer does),
 *      echoed byte for byte by servers/raw_echo.ts; the client (reference/raw_bulk_client.ts)
 *      reads the whole frame back (header checked, payload skipped) before counting the call.
 *      The echo is cut-through: the reply leaves while the request is still arriving.
 *    - raw-msg: store-and-forward, the least a unary RPC can do: servers/raw_message_echo.ts
 *      assembles each request's payload in a buffer of its own before writing it back, and
 *      the client assembles each reply's. At 1 in flight that costs a second transfer time,
 *      so this row runs at 1 only: with several calls in flight, one call's transfer
 *      overlaps another's, and raw is the ceiling again.
 *    - weft-lend: weft with `lendPayloads` at both ends (servers/weft_lending.ts); the client
 *      releases each reply once it checked it, so large buffers are reused, not reallocated.
 *    MiB/s is per direction (each call moves 1 MiB each way).
 *
 * As in unary.ts: the rows of one group (same part, same concurrency) each have their own
 * connection, warm up, then take turns in BENCH_SLICE slices so their ratios see the same
 * machine load. "cpu" is process CPU time (all threads, /proc) per message or per call,
 * client + server, over the measured parts of the slices.
 *
 * Env:
 *   BENCH_SECONDS=3, BENCH_WARMUP=1, BENCH_ROUNDS=1, BENCH_SLICE=0.25, BENCH_PIN=1,
 *   BENCH_KEEP_AWAKE=1, BENCH_CHILD_FLAGS=...   as in unary.ts
 *   BENCH_STREAMS=4          the "many" concurrent-stream count
 *   BENCH_STREAM_LEN=100000  messages each stream asks for (1000000 with BENCH_STREAM_CANCEL=1)
 *   BENCH_STREAM_CANCEL=1    stop streams at the slice's end with a reset (see 1.)
 *   BENCH_BULK_INFLIGHT=4    the "many" in-flight count of the 1 MiB echo
 *   BENCH_BULK_SIZE=1048576  payload bytes of the bulk echo
 *   BENCH_ONLY=weft-stream:1,raw-stream:1     run only these rows (mode-bench:concurrency;
 *                                             modes raw|raw-msg|weft|weft-lend, benches stream|1mib)
 */
import { loadAdapter } from "./harness/adapters.ts";
import { jsonOutput, printJson, runConditions, runtimeLabel } from "./harness/output.ts";
import { measureRounds } from "./harness/rounds.ts";
import { HOST, runtime, runtimeVersion } from "./harness/runtime.ts";
import { selectRows } from "./harness/selection.ts";
import { socketBench } from "./harness/session.ts";
import { PAYLOAD_SIZE } from "./harness/wire.ts";
import { BULK_TARGET, bulkCheck, openBulkRow, printBulk } from "./stream/bulk.ts";
import { openStreamRow, printStream, STREAM_TARGET, streamCheck } from "./stream/messages.ts";
import { addRatios, keyOf, type Mode, type Part, type Row, type Targets } from "./stream/rows.ts";
import {
  BULK_INFLIGHT,
  BULK_SIZE,
  CANCEL,
  settings,
  STREAM_LEN,
  STREAM_SLACK_MS,
  STREAMS,
} from "./stream/settings.ts";

const ROWS: Array<[Mode, Part, number]> = [
  ["raw", "stream", 1],
  ["weft", "stream", 1],
  ["raw", "stream", STREAMS],
  ["weft", "stream", STREAMS],
  ["raw", "1mib", 1],
  ["raw-msg", "1mib", 1],
  ["weft", "1mib", 1],
  ["weft-lend", "1mib", 1],
  ["raw", "1mib", BULK_INFLIGHT],
  ["weft", "1mib", BULK_INFLIGHT],
  ["weft-lend", "1mib", BULK_INFLIGHT],
];
const wanted = selectRows(
  ROWS.map(([mode, part, n]) => ({ key: keyOf(mode, part, n), mode, part, n })),
  `e.g. weft-stream:1, raw-1mib:${BULK_INFLIGHT}`,
);
const needs = (mode: Mode, part: Part) => wanted.some((r) => r.mode === mode && r.part === part);

await socketBench({
  settings,
  watchdog: { rows: wanted.length, slackSeconds: (2 * STREAM_SLACK_MS) / 1000 },
  servers: {
    rawStream: needs("raw", "stream") ? "servers/raw_stream.ts" : null,
    rawEcho: needs("raw", "1mib") ? "servers/raw_echo.ts" : null,
    rawMessageEcho: needs("raw-msg", "1mib") ? "servers/raw_message_echo.ts" : null,
    weft: wanted.some((r) => r.mode === "weft") ? "servers/weft_tcp.ts" : null,
    weftLending: needs("weft-lend", "1mib") ? "servers/weft_lending.ts" : null,
  },
}, async ({ servers, spinners, pinned, elapsedSeconds }) => {
  const { connect } = await loadAdapter();
  const weft = () => connect({ hostname: HOST, port: servers.weft!.port });
  const targets = (
    raw: { port: number; pid: number | undefined } | undefined,
    rawMsg?: { port: number; pid: number | undefined },
  ): Targets => ({
    raw,
    rawMsg,
    weft,
    weftPid: servers.weft?.pid,
    weftLending: () => connect({ hostname: HOST, port: servers.weftLending!.port, lendPayloads: true }),
    weftLendingPid: servers.weftLending?.pid,
  });
  const plan = wanted.map(({ key, mode, part, n }) => ({
    key,
    group: `${part}:${n}`,
    open: () =>
      part === "stream"
        ? openStreamRow(mode, n, targets(servers.rawStream))
        : openBulkRow(mode, n, targets(servers.rawEcho, servers.rawMessageEcho)),
  }));
  const rows: Row[] = await measureRounds(plan, settings, "opsPerSec", "serverCpuUs");
  addRatios(rows);

  const checks = {
    streamTarget: STREAM_TARGET,
    stream: [...new Set([1, STREAMS])].map((n) => streamCheck(rows, n)),
    bulkTarget: BULK_TARGET,
    bulk: [...new Set([1, BULK_INFLIGHT])].flatMap((n) => [bulkCheck(rows, n), bulkCheck(rows, n, "weft-lend")]),
  };

  if (jsonOutput) {
    printJson({
      bench: "stream",
      runtime,
      version: runtimeVersion(),
      seconds: settings.seconds,
      warmup: settings.warmup,
      rounds: settings.rounds,
      streamLength: STREAM_LEN,
      streamCancel: CANCEL,
      payloadBytes: PAYLOAD_SIZE,
      bulkBytes: BULK_SIZE,
      keepAwake: spinners,
      pinned,
      rows,
      checks,
      elapsedSeconds: elapsedSeconds(),
    });
    return;
  }
  const setting = `${runtimeLabel()} ${runConditions(settings, spinners, pinned)}`;
  const streamRows = rows.filter((r) => r.bench === "stream");
  const bulkRows = rows.filter((r) => r.bench === "1mib");
  if (streamRows.length > 0) printStream(streamRows, checks.stream, setting);
  if (bulkRows.length > 0) printBulk(bulkRows, checks.bulk, setting);
});
