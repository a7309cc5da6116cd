/**
 * The stream bench's first part: server streaming of 32-byte messages, one frame each, at 1
 * and at BENCH_STREAMS concurrent streams on one connection.
 *   weft  `conn.request(3, u32(n), { nonBlocking: true })` answered by an async generator
 *         handler that yields one 32-byte payload per message (servers/weft_tcp.ts); the
 *         client walks the reply with `for await` (WeftStreamClient below).
 *   raw   servers/raw_stream.ts writes pre-encoded 48-byte frames in 48 KiB blocks as fast
 *         as the socket takes them; reference/raw_stream_client.ts parses, routes and
 *         counts every frame.
 */
import type { Connection } from "../../mod.ts";
import type { Runner } from "../harness/interleave.ts";
import { closeConnection } from "../harness/lanes.ts";
import { fmtInt, pct, verdict } from "../harness/output.ts";
import { runtime } from "../harness/runtime.ts";
import { type Client, Tally } from "../harness/tally.ts";
import { withTimeout } from "../harness/watchdog.ts";
import { ECHO_CMD, makePayload, PAYLOAD_SIZE, STREAM_CMD, u32 } from "../harness/wire.ts";
import { RawStreamClient } from "../reference/raw_stream_client.ts";
import { type Mode, type Row, runnerOf, streamTable, type Targets } from "./rows.ts";
import { CANCEL, STREAM_LEN, STREAM_SLACK_MS } from "./settings.ts";

/** Hard cap on streams per lane and slice, so every loop ends even if the clock misbehaves. */
const MAX_REQUESTS_PER_SLICE = 100_000;
/** CANCEL: weft stream lanes read the clock every this many messages (a power of two, minus one). */
const CLOCK_MASK = 255;
/** Target of the weft rows on Bun and Node, messages/s. */
export const STREAM_TARGET = 1_000_000;

const NON_BLOCKING = { nonBlocking: true } as const;
const PAYLOAD = makePayload();
const STREAM_REQUEST = u32(STREAM_LEN);

/** `concurrency` lanes on one weft connection, each starting one stream after another. */
class WeftStreamClient implements Client {
  readonly tally: Tally;
  #conn: Connection;

  constructor(conn: Connection, readonly concurrency: number, serverPid: number | undefined) {
    this.#conn = conn;
    this.tally = new Tally(serverPid);
  }

  async run(ms: number): Promise<void> {
    const conn = this.#conn;
    const tally = this.tally;
    tally.cpu.start();
    const start = performance.now();
    const deadline = start + ms;
    let total = 0;
    let last = start;
    // One stream after another until the slice ends, as an application would write it;
    // each read to its end, or (CANCEL) left with a `break` when the slice ends.
    const lane = async () => {
      let n = 0;
      for (let requests = 0; requests < MAX_REQUESTS_PER_SLICE; requests++) {
        const reply = await conn.request(STREAM_CMD, STREAM_REQUEST, NON_BLOCKING);
        let stopped = false;
        for await (const chunk of reply) {
          if (chunk.length !== PAYLOAD_SIZE) throw new Error(`weft stream: ${chunk.length}-byte message`);
          if ((++n & CLOCK_MASK) === 0 && CANCEL) {
            const t = performance.now();
            if (t >= deadline) {
              if (t > last) last = t;
              stopped = true;
              break; // resets the stream
            }
          }
        }
        if (stopped) break;
        const t = performance.now();
        if (t >= deadline) {
          if (t > last) last = t;
          break;
        }
      }
      total += n;
    };
    const lanes: Promise<void>[] = [];
    for (let i = 0; i < this.concurrency; i++) lanes.push(lane());
    await withTimeout(
      Promise.all(lanes),
      ms + STREAM_SLACK_MS,
      "weft stream stalled",
      () => conn.destroy(new Error("bench: stalled")),
    );
    tally.cpu.stop();
    tally.ops += total;
    tally.seconds += (last - start) / 1000;
    if (!CANCEL) return; // every stream was read to its end: nothing in flight
    // Fence: this reply follows every frame the server sent before it saw the resets.
    await withTimeout(
      conn.request(ECHO_CMD, PAYLOAD, NON_BLOCKING),
      10_000,
      "weft stream: fence call stalled",
      () => conn.destroy(new Error("bench: stalled")),
    );
    tally.cancelMs += performance.now() - last;
    tally.cancels++;
  }

  reset(): void {
    this.tally.reset();
  }

  close(): Promise<void> {
    return closeConnection(this.#conn);
  }
}

/** Opens one row's client, on a connection of its own. */
export async function openStreamRow(mode: Mode, concurrency: number, targets: Targets): Promise<Runner<Row>> {
  const client: Client = mode === "raw"
    ? await RawStreamClient.open(targets.raw!.port, concurrency, targets.raw!.pid, {
      length: STREAM_LEN,
      cancel: CANCEL,
      slackMs: STREAM_SLACK_MS,
    })
    : new WeftStreamClient(await targets.weft(), concurrency, targets.weftPid);
  return runnerOf("stream", mode, concurrency, client);
}

/** The check of the weft row with `n` streams: messages/s against the target (Bun and Node), and weft/raw. */
export function streamCheck(rows: Row[], n: number) {
  const r = rows.find((x) => x.mode === "weft" && x.bench === "stream" && x.concurrency === n);
  return {
    streams: n,
    msgsPerSec: r?.opsPerSec ?? null,
    ratio: r?.ratio ?? null,
    met: r === undefined || runtime === "deno" ? null : r.opsPerSec >= STREAM_TARGET,
  };
}

/** The part's table and checks, as text. */
export function printStream(rows: Row[], checks: ReturnType<typeof streamCheck>[], setting: string): void {
  const how = CANCEL ? "stopped with a reset at each slice's end" : "each read to its end";
  console.log(
    `\nserver streaming, ${PAYLOAD_SIZE} B messages, one frame each, streams of ${fmtInt(STREAM_LEN)} ` +
      `messages ${how}, ${setting}`,
  );
  console.log(streamTable(rows));
  console.log(
    "(MB/s: payload bytes, 10^6; cpu us/msg c+s: CPU time per message, client + server process" +
      (CANCEL ? ";\n cancel ms: per slice, from the client's stop until the connection is quiet, not measured time)" : ")"),
  );
  for (const c of checks) {
    if (c.msgsPerSec === null) continue;
    console.log(
      `stream x${c.streams}: weft ${(c.msgsPerSec / 1e6).toFixed(2)} M msgs/s (target >= 1 M/s on Bun and Node)` +
        `${verdict(c.met)}; weft/raw = ${pct(c.ratio)}`,
    );
  }
}
