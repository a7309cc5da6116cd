/**
 * The stream bench's second part: a 1 MiB unary echo (BENCH_BULK_SIZE) at 1 and at
 * BENCH_BULK_INFLIGHT calls in flight on one connection.
 *   weft  `conn.request(1, oneMiB, { nonBlocking: true })` in lanes, echoed by
 *         servers/weft_tcp.ts's cmd-1 handler.
 *   raw      reference/raw_bulk_client.ts: a 16-byte header then the payload, echoed byte
 *            for byte as it arrives by servers/raw_echo.ts (cut-through), each frame read
 *            back whole (payload skipped) before the call counts.
 *   raw-msg  the same client, assembling each reply's payload in one buffer, against
 *            servers/raw_message_echo.ts, which assembles each request before echoing it
 *            (store-and-forward): the least any unary RPC does with a 1 MiB payload. At 1
 *            in flight only: with more, calls overlap and raw is the ceiling again.
 *   weft-lend  weft with `lendPayloads` at both ends (servers/weft_lending.ts): each reply
 *            is checked, then `response.release()`d, so its buffer holds a later reply.
 * MiB/s is per direction (each call moves the payload each way).
 */
import type { Runner } from "../harness/interleave.ts";
import { connectionTarget, LaneClient } from "../harness/lanes.ts";
import { pct, verdict } from "../harness/output.ts";
import type { Client } from "../harness/tally.ts";
import { ECHO_CMD } from "../harness/wire.ts";
import { RawBulkClient } from "../reference/raw_bulk_client.ts";
import { bulkTable, type Mode, type Row, runnerOf, type Targets } from "./rows.ts";
import { BULK_SIZE, MiB } from "./settings.ts";

/** Target of weft/raw (cut-through), at each in-flight count. */
export const BULK_TARGET = 0.8;

const NON_BLOCKING = { nonBlocking: true } as const;

function makeBulk(): Uint8Array {
  const bytes = new Uint8Array(BULK_SIZE);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

const BULK = makeBulk();

/** Opens one row's client, on a connection of its own. */
export async function openBulkRow(mode: Mode, inFlight: number, targets: Targets): Promise<Runner<Row>> {
  let client: Client;
  if (mode === "raw") {
    client = await RawBulkClient.open(targets.raw!.port, inFlight, targets.raw!.pid, BULK, false);
  } else if (mode === "raw-msg") {
    client = await RawBulkClient.open(targets.rawMsg!.port, inFlight, targets.rawMsg!.pid, BULK, true);
  } else {
    const lending = mode === "weft-lend";
    const conn = lending ? await targets.weftLending!() : await targets.weft();
    const call = async () => {
      const response = await conn.request(ECHO_CMD, BULK, NON_BLOCKING);
      if (response.payload.length !== BULK_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
      if (lending) response.release();
    };
    const pid = lending ? targets.weftLendingPid : targets.weftPid;
    client = new LaneClient(`${mode} 1 MiB echo`, inFlight, call, connectionTarget(conn), pid);
  }
  return runnerOf("1mib", mode, inFlight, client);
}

/** The check of a weft row at `n` in flight: weft/raw against the target, and weft/raw-msg. */
export function bulkCheck(rows: Row[], n: number, mode: "weft" | "weft-lend" = "weft") {
  const r = rows.find((x) => x.mode === mode && x.bench === "1mib" && x.concurrency === n);
  const ratio = r?.ratio ?? null;
  const ceiling = rows.find((x) => x.mode === "raw-msg" && x.bench === "1mib" && x.concurrency === n)?.ratio ?? null;
  return {
    mode,
    inFlight: n,
    ratio,
    met: ratio === null ? null : ratio >= BULK_TARGET,
    /** raw-msg/raw: what store-and-forward itself leaves of the cut-through ceiling. */
    storeAndForward: ceiling,
    /** weft/raw-msg. */
    msgRatio: r?.msgRatio ?? null,
  };
}

/** The part's table and checks, as text. */
export function printBulk(rows: Row[], checks: ReturnType<typeof bulkCheck>[], setting: string): void {
  const size = BULK_SIZE === MiB ? "1 MiB" : `${BULK_SIZE} B`;
  console.log(`\n${size} unary echo, ${setting}`);
  console.log(bulkTable(rows));
  console.log("(MiB/s each way: the payload goes out and comes back; cpu us/call c+s: client + server process;");
  console.log(" raw echoes bytes as they arrive, raw-msg assembles each payload before it is used, as a unary RPC must)");
  for (const c of checks) {
    if (c.ratio === null) continue;
    const msg = c.msgRatio === null ? "" : `; ${c.mode}/raw-msg = ${pct(c.msgRatio)}, raw-msg/raw = ${pct(c.storeAndForward)}`;
    console.log(
      `${size}, ${c.inFlight} in flight: ${c.mode}/raw = ${pct(c.ratio)} (target ${pct(BULK_TARGET)})${verdict(c.met)}${msg}`,
    );
  }
}
