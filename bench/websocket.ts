/**
 * WebSocket unary benchmark: weft over WebSocket against a raw WebSocket echo (the
 * reference) and capnweb over WebSocket, on the runtime this file is started with. Servers
 * run in child processes (same runtime, 127.0.0.1, port 0); the clients run here.
 * `node bench/run.mjs --bench=websocket` runs it on all three runtimes.
 *
 *   npx bun bench/websocket.ts [--json]
 *   npx deno run -A bench/websocket.ts [--json]
 *   node --import tsx bench/websocket.ts [--json]        (from the repository root)
 *
 * Rows, each at 1 and at BENCH_INFLIGHT (64) calls in flight on one WebSocket of its own,
 * all with a 32-byte payload:
 *   raw      the reference: bench/raw_ws_client.ts against bench/raw_ws_echo_server.ts, the
 *            runtime's own WebSocket server (Bun.serve's websocket handler,
 *            Deno.upgradeWebSocket, the `ws` package's WebSocketServer on Node) echoing each
 *            binary message, and the WebSocket client weft's client uses on this runtime
 *            (found with a probe connection: the global WebSocket if the adapter takes it,
 *            else the `ws` package's), replies checked in order by a counter in the payload.
 *            One 32-byte message each way per call.
 *   weft     `await conn.request(1, 32 bytes, { nonBlocking: true })` on a connection from
 *            `connectWebSocket`, served by `listenWebSocket` (Hono, /qrpc) with the echo
 *            handler (bench/weft_ws_server.ts). One 48-byte message each way per call.
 *   capnweb  `await stub.echo(32 bytes)` on a capnweb 0.12 WebSocket session (the same
 *            client WebSocket class), served by an RpcTarget through capnweb's own WebSocket
 *            session API (bench/capnweb_server.ts). JSON text messages; push, pull and
 *            release from the client, resolve from the server.
 *
 * As in unary.ts (bench/unary_harness.ts): the rows of one in-flight count warm up, then take
 * turns in BENCH_SLICE slices so their ratios see the same machine load; calls/s, latency,
 * "cpu us/call" (process CPU time, all threads, /proc, client + server); medians over
 * BENCH_ROUNDS. After the table: weft/raw (target 60%) and weft/capnweb per in-flight count.
 *
 * Env: BENCH_SECONDS, BENCH_WARMUP, BENCH_INFLIGHT, BENCH_SLICE, BENCH_ROUNDS, BENCH_PIN,
 * BENCH_KEEP_AWAKE, BENCH_CHILD_FLAGS as in unary.ts;
 *   BENCH_ONLY=weft:64,raw:64     run only these rows (mode:inFlight; modes raw, weft, capnweb)
 *   BENCH_WS_CLIENT=global|ws     the client WebSocket class of every row (weft's included):
 *                                 the runtime's own, or the `ws` package's. Default: weft's.
 * On Deno, the runtime's own WebSocket client turns Nagle on (see DENO_NAGLE_NOTE).
 */
import process from "node:process";
import {
  CpuMeter,
  ECHO_CMD,
  HOST,
  Histogram,
  killChildren,
  makePayload,
  PAYLOAD_SIZE,
  runBench,
  runLanes,
  runtime,
  runtimeVersion,
  type ServerChild,
  startServer,
} from "./common.ts";
import type { WebSocketConstructor } from "../src/transports/websocket_client.ts";
import { type CapnwebEcho, openCapnweb } from "./capnweb_client.ts";
import { RawWsRunner } from "./raw_ws_client.ts";
import {
  applyOnly,
  LaneRunner,
  log,
  MANY,
  measurePlan,
  pinProcesses,
  type Plan,
  ROUNDS,
  type Row,
  rowOf,
  type Runner,
  SECONDS,
  startSpinners,
  startWatchdog,
  table,
  WARMUP,
} from "./unary_harness.ts";
import { loadWebSocketAdapter, weftClientWebSocket } from "./ws_adapter.ts";

const json = process.argv.includes("--json");

const PAYLOAD = makePayload();
const NON_BLOCKING = { nonBlocking: true } as const;
/** weft's calls/s as a share of the raw WebSocket echo's, at each in-flight count. */
const TARGET = 0.6;

/**
 * Deno's WebSocket client turns Nagle's algorithm on (setsockopt TCP_NODELAY 0 on its socket,
 * seen with strace) and offers no way to turn it off. capnweb sends three messages per call
 * (push, pull, release), so its calls wait for the server's delayed ACK (~40 ms).
 */
const DENO_NAGLE_NOTE =
  "note: Deno's WebSocket client leaves Nagle on (TCP_NODELAY 0); capnweb sends 3 messages per call " +
  "(push, pull, release), so on Deno its calls wait ~40 ms for delayed ACKs: its rows measure that, not capnweb";

/** `inFlight` lanes of `await stub.echo(bytes)` on one capnweb session. */
class CapnwebRunner implements Runner {
  readonly mode = "capnweb";
  readonly hist = new Histogram();
  calls = 0;
  seconds = 0;
  readonly #session: CapnwebEcho;
  readonly #cpu: CpuMeter;

  constructor(session: CapnwebEcho, readonly inFlight: number, serverPid: number | undefined) {
    this.#session = session;
    this.#cpu = new CpuMeter(serverPid);
  }

  async run(ms: number): Promise<void> {
    const session = this.#session;
    this.#cpu.start();
    const phase = await runLanes(async () => {
      const reply = await session.echo(PAYLOAD);
      if (reply.length !== PAYLOAD_SIZE) throw new Error(`capnweb: bad echo: ${reply.length} bytes`);
    }, this.inFlight, ms, this.hist, this.mode, () => session.close());
    this.#cpu.stop();
    this.calls += phase.calls;
    this.seconds += phase.seconds;
  }

  reset(): void {
    this.hist.reset();
    this.#cpu.reset();
    this.calls = this.seconds = 0;
  }

  row(): Row {
    return rowOf(this.mode, this.inFlight, this.calls, this.seconds, this.hist, this.#cpu);
  }

  close(): Promise<void> {
    this.#session.close();
    return Promise.resolve();
  }
}

/** BENCH_WS_CLIENT=global (the runtime's own WebSocket) or ws (the package's), for every row. */
async function forcedClient(): Promise<{ WebSocket: WebSocketConstructor; name: string } | null> {
  const choice = process.env.BENCH_WS_CLIENT ?? "";
  if (choice === "") return null;
  if (choice === "ws") {
    const ws = await import("ws");
    return { WebSocket: ws.WebSocket as unknown as WebSocketConstructor, name: "the ws package's WebSocket (BENCH_WS_CLIENT)" };
  }
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (choice === "global" && global !== undefined) return { WebSocket: global, name: `${runtime}'s own WebSocket (BENCH_WS_CLIENT)` };
  throw new Error(`BENCH_WS_CLIENT=${choice}: expected "ws" or "global" (where there is a global WebSocket)`);
}

async function main(): Promise<void> {
  const started = Date.now();
  // Whatever happens, the run ends: every row is bounded, and this is the backstop.
  const watchdog = startWatchdog(6);

  const servers: ServerChild[] = [];
  try {
    const { connectWebSocket } = await loadWebSocketAdapter();
    const spinners = await startSpinners();
    const [rawServer, weftServer, capnwebServer] = await Promise.all([
      startServer("raw_ws_echo_server.ts"),
      startServer("weft_ws_server.ts"),
      startServer("capnweb_server.ts"),
    ]);
    servers.push(rawServer, weftServer, capnwebServer);
    const url = (port: number, path: string) => `ws://${HOST}:${port}${path}`;
    // The raw and capnweb rows use the WebSocket class weft's client uses here, unless
    // BENCH_WS_CLIENT picks one for every row.
    const forced = await forcedClient();
    const { WebSocket, name: clientName } = forced ??
      await weftClientWebSocket(connectWebSocket, url(weftServer.port, "/qrpc"));
    const nativeDenoClient = runtime === "deno" && WebSocket === (globalThis as { WebSocket?: unknown }).WebSocket;
    const pinned = await pinProcesses(servers);
    log(
      `${runtime} ${runtimeVersion()}: raw ws echo server pid ${rawServer.pid} port ${rawServer.port}, ` +
        `weft ws server pid ${weftServer.pid} port ${weftServer.port}, capnweb server pid ${capnwebServer.pid} ` +
        `port ${capnwebServer.port}; client: ${clientName}; warm-up ${WARMUP} s, measure ${SECONDS} s per row` +
        (spinners > 0 ? `; ${spinners} SCHED_IDLE spinners keep the CPUs awake` : "") +
        (pinned ? "; client pinned to CPU 0, servers to CPU 1" : ""),
    );

    const modes = ["raw", "weft", "capnweb"];
    const plan: Plan = applyOnly([...modes.map((m): [string, number] => [m, 1]), ...modes.map((m): [string, number] => [m, MANY])]);
    const open = async (mode: string, inFlight: number): Promise<Runner> => {
      if (mode === "raw") return await RawWsRunner.open(url(rawServer.port, "/"), WebSocket, inFlight, rawServer.pid);
      if (mode === "capnweb") {
        return new CapnwebRunner(await openCapnweb(url(capnwebServer.port, "/"), WebSocket), inFlight, capnwebServer.pid);
      }
      const conn = await connectWebSocket({ url: url(weftServer.port, "/qrpc"), WebSocket: forced?.WebSocket });
      return new LaneRunner(mode, inFlight, conn, async () => {
        const response = await conn.request(ECHO_CMD, PAYLOAD, NON_BLOCKING);
        if (response.payload.length !== PAYLOAD_SIZE) throw new Error(`bad echo: ${response.payload.length} bytes`);
      }, weftServer.pid);
    };
    const rows = await measurePlan(plan, open);

    const find = (mode: string, inFlight: number) => rows.find((r) => r.mode === mode && r.inFlight === inFlight);
    const levels = [...new Set(plan.map(([, n]) => n))];
    const perLevel = levels.map((inFlight) => {
      const weft = find("weft", inFlight);
      const capnweb = find("capnweb", inFlight);
      const weftRatio = weft?.ratio ?? null;
      return {
        inFlight,
        weftRatio,
        capnwebRatio: capnweb?.ratio ?? null,
        weftOverCapnweb: weft === undefined || capnweb === undefined ? null : weft.callsPerSec / capnweb.callsPerSec,
        target: TARGET,
        met: weftRatio === null ? null : weftRatio >= TARGET,
      };
    });

    if (json) {
      console.log(JSON.stringify({
        runtime,
        version: runtimeVersion(),
        client: clientName,
        seconds: SECONDS,
        warmup: WARMUP,
        payloadBytes: PAYLOAD_SIZE,
        many: MANY,
        rounds: ROUNDS,
        keepAwake: spinners,
        pinned,
        rows,
        perLevel,
        notes: nativeDenoClient ? [DENO_NAGLE_NOTE] : [],
        elapsedSeconds: (Date.now() - started) / 1000,
      }));
    } else {
      const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(0)}%`);
      const x = (r: number | null) => (r === null ? "n/a" : `${r.toFixed(2)}x`);
      console.log(
        `\nwebsocket unary, ${PAYLOAD_SIZE} B payload, ${runtime} ${runtimeVersion()}, client ${clientName} ` +
          `(${SECONDS} s per row, one connection per row${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ""}` +
          `${spinners > 0 ? ", CPUs kept awake" : ""}${pinned ? ", pinned" : ""})`,
      );
      console.log(table(rows));
      console.log("(cpu us/call c+s: CPU time per call of the client process + the server process, all threads)");
      for (const l of perLevel) {
        const verdict = l.met === null ? "" : l.met ? " -> met" : " -> NOT met";
        console.log(
          `${l.inFlight} in flight: weft/raw = ${pct(l.weftRatio)} (target ${pct(TARGET)})${verdict}; ` +
            `capnweb/raw = ${pct(l.capnwebRatio)}; weft/capnweb = ${x(l.weftOverCapnweb)}`,
        );
      }
      if (nativeDenoClient && rows.some((r) => r.mode === "capnweb")) console.log(DENO_NAGLE_NOTE);
    }
  } finally {
    watchdog.clear();
    await Promise.all(servers.map((server) => server.stop()));
    killChildren();
  }
}

await runBench(main);
