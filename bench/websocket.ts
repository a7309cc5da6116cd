/**
 * WebSocket unary benchmark: weft over WebSocket against a raw WebSocket echo (the
 * reference) and capnweb over WebSocket, on the runtime this file is started with. Servers
 * run in child processes (same runtime, 127.0.0.1, port 0); the clients run here.
 * `node bench/run.mjs --bench=websocket` runs it on all three runtimes.
 *
 *   npx bun bench/websocket.ts [--json]
 *   npx deno run -A bench/websocket.ts [--json]
 *   node --import ./bench/harness/node_typescript.mjs bench/websocket.ts [--json]        (from the repository root)
 *
 * Rows, each at 1 and at BENCH_INFLIGHT (64) calls in flight on one WebSocket of its own,
 * all with a 32-byte payload:
 *   raw      the reference: reference/raw_websocket_client.ts against
 *            servers/raw_websocket_echo.ts, the runtime's own WebSocket server (Bun.serve's
 *            websocket handler, Deno.upgradeWebSocket, the `ws` package's WebSocketServer on
 *            Node) echoing each binary message, and the WebSocket client weft's client uses
 *            on this runtime (found with a probe connection: the global WebSocket if the
 *            adapter takes it, else the `ws` package's), replies checked in order by a
 *            counter in the payload. One 32-byte message each way per call.
 *   weft     `await conn.request(1, 32 bytes, { nonBlocking: true })` on a connection from
 *            `connectWebSocket`, served by `listenWebSocket` (Hono, /qrpc) with the echo
 *            handler (servers/weft_websocket.ts). One 48-byte message each way per call.
 *   capnweb  `await stub.echo(32 bytes)` on a capnweb 0.12 WebSocket session (the same
 *            client WebSocket class, reference/capnweb_client.ts), served by an RpcTarget
 *            through capnweb's own WebSocket session API (servers/capnweb.ts). JSON text
 *            messages; push, pull and release from the client, resolve from the server.
 *
 * As in unary.ts: the rows of one in-flight count warm up, then take turns in BENCH_SLICE
 * slices so their ratios see the same machine load; calls/s, latency, "cpu us/call"
 * (process CPU time, all threads, /proc, client + server); medians over BENCH_ROUNDS. After
 * the table: weft/raw and weft/capnweb per in-flight count; at the many in-flight count the
 * targets are weft/raw >= 100% and weft/capnweb >= 3x.
 *
 * Env: BENCH_SECONDS, BENCH_WARMUP, BENCH_INFLIGHT, BENCH_SLICE, BENCH_ROUNDS, BENCH_PIN,
 * BENCH_KEEP_AWAKE, BENCH_CHILD_FLAGS as in unary.ts;
 *   BENCH_ONLY=weft:64,raw:64     run only these rows (mode:inFlight; modes raw, weft, capnweb)
 *   BENCH_WS_CLIENT=global|ws     the client WebSocket class of every row (weft's included):
 *                                 the runtime's own, or the `ws` package's. Default: weft's.
 * On Deno, the runtime's own WebSocket client turns Nagle on (see DENO_NAGLE_NOTE).
 */
import { clientWebSocket, loadWebSocketAdapter } from "./harness/adapters.ts";
import { addRatios, callPlan, callRunner, type CallRow, callTable, CPU_NOTE, findRow } from "./harness/calls.ts";
import { connectionTarget, LaneClient } from "./harness/lanes.ts";
import { jsonOutput, log, pct, printJson, runConditions, runtimeLabel, times, verdict } from "./harness/output.ts";
import { measureRounds } from "./harness/rounds.ts";
import { HOST, runtime, runtimeVersion } from "./harness/runtime.ts";
import { socketBench } from "./harness/session.ts";
import { MANY, readSettings, SOCKET_DEFAULTS } from "./harness/settings.ts";
import { ECHO_CMD, makePayload, PAYLOAD_SIZE } from "./harness/wire.ts";
import { openCapnweb } from "./reference/capnweb_client.ts";
import { RawWebSocketClient } from "./reference/raw_websocket_client.ts";

const settings = readSettings(SOCKET_DEFAULTS);
const MODES = ["raw", "weft", "capnweb"];
const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;
/** weft's calls/s as a share of the raw WebSocket echo's, at each in-flight count. */
const TARGET = 1;
/** weft / capnweb at the many in-flight count. */
const CAPNWEB_TARGET = 3;

/**
 * Deno's WebSocket client turns Nagle's algorithm on (setsockopt TCP_NODELAY 0 on its socket,
 * seen with strace) and offers no way to turn it off. capnweb sends three messages per call
 * (push, pull, release), so its calls wait for the server's delayed ACK (~40 ms).
 */
const DENO_NAGLE_NOTE =
  "note: Deno's WebSocket client leaves Nagle on (TCP_NODELAY 0); capnweb sends 3 messages per call " +
  "(push, pull, release), so on Deno its calls wait ~40 ms for delayed ACKs: its rows measure that, not capnweb";

await socketBench({
  settings,
  watchdog: { rows: 2 * MODES.length, slackSeconds: 12 },
  servers: { raw: "servers/raw_websocket_echo.ts", weft: "servers/weft_websocket.ts", capnweb: "servers/capnweb.ts" },
}, async ({ servers: { raw, weft, capnweb }, spinners, pinned, elapsedSeconds }) => {
  const { connectWebSocket } = await loadWebSocketAdapter();
  const url = (port: number, path: string) => `ws://${HOST}:${port}${path}`;
  // The raw and capnweb rows use the WebSocket class weft's client uses here, unless
  // BENCH_WS_CLIENT picks one for every row.
  const client = await clientWebSocket(connectWebSocket, url(weft.port, "/qrpc"));
  const { WebSocket } = client;
  const nativeDenoClient = runtime === "deno" && WebSocket === (globalThis as { WebSocket?: unknown }).WebSocket;
  log(`client: ${client.name}`);

  const plan = callPlan(MODES, async (mode, inFlight) => {
    if (mode === "raw") {
      return callRunner(mode, inFlight, await RawWebSocketClient.open(url(raw.port, "/"), WebSocket, inFlight, raw.pid));
    }
    if (mode === "capnweb") {
      const session = await openCapnweb(url(capnweb.port, "/"), WebSocket);
      const call = async () => {
        const reply = await session.echo(PAYLOAD);
        if (reply.length !== PAYLOAD_SIZE) throw new Error(`capnweb: bad echo: ${reply.length} bytes`);
      };
      const target = { onStall: () => session.close(), close: () => Promise.resolve(session.close()) };
      return callRunner(mode, inFlight, new LaneClient(mode, inFlight, call, target, capnweb.pid));
    }
    const conn = await connectWebSocket({ url: url(weft.port, "/qrpc"), WebSocket: client.forced ? WebSocket : undefined });
    const call = async () => {
      const response = await conn.request(ECHO_CMD, PAYLOAD, NON_BLOCKING);
      if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
    };
    return callRunner(mode, inFlight, new LaneClient(mode, inFlight, call, connectionTarget(conn), weft.pid));
  });
  const rows: CallRow[] = await measureRounds(plan, settings, "callsPerSec", "serverCpuUs");
  addRatios(rows);

  const levels = [...new Set(rows.map((r) => r.inFlight))];
  const perLevel = levels.map((inFlight) => {
    const weftRow = findRow(rows, "weft", inFlight);
    const capnwebRow = findRow(rows, "capnweb", inFlight);
    const weftRatio = weftRow?.ratio ?? null;
    return {
      inFlight,
      weftRatio,
      capnwebRatio: capnwebRow?.ratio ?? null,
      weftOverCapnweb: weftRow === undefined || capnwebRow === undefined
        ? null
        : weftRow.callsPerSec / capnwebRow.callsPerSec,
      target: TARGET,
      capnwebTarget: CAPNWEB_TARGET,
      // The targets are for the many in-flight count; one in flight measures wake-up latency.
      met: inFlight !== MANY || weftRatio === null
        ? null
        : weftRatio >= TARGET && (capnwebRow === undefined || (weftRow!.callsPerSec / capnwebRow.callsPerSec) >= CAPNWEB_TARGET),
    };
  });

  if (jsonOutput) {
    printJson({
      runtime,
      version: runtimeVersion(),
      client: client.name,
      seconds: settings.seconds,
      warmup: settings.warmup,
      payloadBytes: PAYLOAD_SIZE,
      many: MANY,
      rounds: settings.rounds,
      keepAwake: spinners,
      pinned,
      rows,
      perLevel,
      notes: nativeDenoClient ? [DENO_NAGLE_NOTE] : [],
      elapsedSeconds: elapsedSeconds(),
    });
    return;
  }
  console.log(
    `\nwebsocket unary, ${PAYLOAD_SIZE} B payload, ${runtimeLabel()}, client ${client.name} ` +
      runConditions(settings, spinners, pinned),
  );
  console.log(callTable(rows));
  console.log(CPU_NOTE);
  for (const l of perLevel) {
    console.log(
      `${l.inFlight} in flight: weft/raw = ${pct(l.weftRatio)}; capnweb/raw = ${pct(l.capnwebRatio)}; ` +
        `weft/capnweb = ${times(l.weftOverCapnweb)}` +
        (l.inFlight === MANY ? ` (targets ${pct(TARGET)} and ${times(CAPNWEB_TARGET)})${verdict(l.met)}` : ""),
    );
  }
  if (nativeDenoClient && rows.some((r) => r.mode === "capnweb")) console.log(DENO_NAGLE_NOTE);
});
