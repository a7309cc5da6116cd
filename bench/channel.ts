/**
 * What a Channel costs per call, against a bare Connection to the same server, and what
 * round-robin over three server processes gives. Servers run in child processes (same
 * runtime, 127.0.0.1); the clients run here; rows take turns slice by slice.
 *
 *   node bench/run.mjs --bench=channel [bun deno node] [--json]
 *
 * Rows (each at 1 and at BENCH_INFLIGHT calls in flight, `await request(1, 32 bytes,
 * { nonBlocking: true })` per lane):
 *   connection    a bare Connection (the reference)
 *   channel       a Channel with that one endpoint: relays, retries on, breaker on
 *   channel-rr3   a Channel round-robin over three server processes
 *
 * Env: as bench/unary.ts (BENCH_SECONDS, BENCH_ROUNDS, BENCH_PIN, BENCH_ONLY=channel:64 ...).
 */
import type { Connection } from "../mod.ts";
import { loadAdapter } from "./harness/adapters.ts";
import { callPlan, callRunner, type CallRow, callTable, CPU_NOTE, findRow } from "./harness/calls.ts";
import { connectionTarget, LaneClient } from "./harness/lanes.ts";
import { jsonOutput, pct, printJson, runConditions, runtimeLabel } from "./harness/output.ts";
import { measureRounds } from "./harness/rounds.ts";
import { HOST, runtime, runtimeVersion } from "./harness/runtime.ts";
import { socketBench } from "./harness/session.ts";
import { MANY, readSettings, SOCKET_DEFAULTS } from "./harness/settings.ts";
import { ECHO_CMD, makePayload, PAYLOAD_SIZE } from "./harness/wire.ts";

const settings = readSettings(SOCKET_DEFAULTS);
const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;
const MODES = ["connection", "channel", "channel-rr3"];

function lanes(conn: Connection, inFlight: number, mode: string, serverPid: number | undefined): LaneClient {
  return new LaneClient(mode, inFlight, async () => {
    const response = await conn.request(ECHO_CMD, PAYLOAD, NON_BLOCKING);
    if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
  }, connectionTarget(conn), serverPid);
}

await socketBench({
  settings,
  watchdog: { rows: 2 * MODES.length, slackSeconds: 12 },
  servers: { a: "servers/weft_tcp.ts", b: "servers/weft_tcp.ts", c: "servers/weft_tcp.ts" },
}, async ({ servers: { a, b, c }, spinners, pinned, elapsedSeconds }) => {
  const adapter = await loadAdapter() as Awaited<ReturnType<typeof loadAdapter>> & {
    createChannel(endpoints: string[], options?: object): Connection & { ready(): Promise<void> };
  };
  const url = (port: number) => `tcp://${HOST}:${port}`;
  const plan = callPlan(MODES, async (mode, inFlight) => {
    if (mode === "connection") {
      const conn = await adapter.connect({ hostname: HOST, port: a.port });
      return callRunner(mode, inFlight, lanes(conn, inFlight, mode, a.pid));
    }
    const ports = mode === "channel" ? [a.port] : [a.port, b.port, c.port];
    const channel = adapter.createChannel(ports.map(url), { eager: true });
    await channel.ready();
    // CPU per call counts server a only: on rr3 a third of the calls.
    return callRunner(mode, inFlight, lanes(channel, inFlight, mode, mode === "channel" ? a.pid : undefined));
  });
  const rows: CallRow[] = await measureRounds(plan, settings, "callsPerSec", "serverCpuUs");
  for (const row of rows) {
    const base = findRow(rows, "connection", row.inFlight);
    if (base === undefined || row === base) continue;
    row.ratio = row.callsPerSec / base.callsPerSec;
    row.p50Ratio = row.p50us / base.p50us;
  }
  const checks = {
    channelMany: findRow(rows, "channel", MANY)?.ratio ?? null,
    channelOneP50: findRow(rows, "channel", 1)?.p50Ratio ?? null,
    rr3Many: findRow(rows, "channel-rr3", MANY)?.ratio ?? null,
  };
  if (jsonOutput) {
    printJson({ runtime, version: runtimeVersion(), seconds: settings.seconds, many: MANY, rounds: settings.rounds, keepAwake: spinners, pinned, rows, checks, elapsedSeconds: elapsedSeconds() });
    return;
  }
  console.log(`\nchannel vs connection, ${PAYLOAD_SIZE} B payload, ${runtimeLabel()} ${runConditions(settings, spinners, pinned)}`);
  console.log(callTable(rows).replace("vs raw", "vs connection"));
  console.log(CPU_NOTE);
  console.log(`${MANY} in flight: channel/connection = ${pct(checks.channelMany)} (aim: >= 90%); round-robin over 3 servers: ${pct(checks.rr3Many)}`);
});
