/**
 * Memory per connection on a weft server: how much a server process grows for each idle
 * TCP connection, then with one call made on each, then the same over WebSocket. The server
 * is a child process on the runtime under test (servers/weft_memory.ts); the clients are
 * weft connections opened here. Each figure is taken after full garbage collections.
 *
 *   node bench/run.mjs --bench=memory [bun deno node] [--json]
 *   BENCH_CONNS=2000 npx bun bench/memory.ts
 *
 * Per connection = (after - before) / N, for RSS (what the operating system sees) and for
 * the JavaScript heap plus external memory (what the runtime accounts for). The target is
 * at most 16 KiB of RSS per idle TCP connection, and at most twice that with one call made.
 */
import type { Connection } from "../mod.ts";
import { loadAdapter, loadWebSocketAdapter } from "./harness/adapters.ts";
import { startMemoryServer, type Memory } from "./memory/server.ts";
import { HOST, runtime, runtimeVersion } from "./harness/runtime.ts";
import { envNumber } from "./harness/settings.ts";
import { ECHO_CMD, makePayload } from "./harness/wire.ts";
import process from "node:process";

const CONNS = Math.floor(envNumber(process.env.BENCH_CONNS, 10_000));
const WS_CONNS = Math.floor(envNumber(process.env.BENCH_WS_CONNS, Math.min(CONNS, 2_000)));
/** Connections opened at once. */
const BATCH = 200;
export const TARGET_KIB = 16;

interface Step {
  transport: "tcp" | "websocket";
  state: "idle" | "one call";
  connections: number;
  rssKiB: number;
  heapKiB: number;
}

const KiB = 1024;
const perConn = (a: Memory, b: Memory, n: number, key: "rss" | "heap") =>
  key === "rss" ? (b.rss - a.rss) / n / KiB : (b.heapUsed + b.external - a.heapUsed - a.external) / n / KiB;

async function openAll(n: number, open: () => Promise<Connection>): Promise<Connection[]> {
  const all: Connection[] = [];
  while (all.length < n) {
    const batch = Math.min(BATCH, n - all.length);
    all.push(...await Promise.all(Array.from({ length: batch }, open)));
  }
  return all;
}

const server = await startMemoryServer();
const steps: Step[] = [];
try {
  const tcpAdapter = await loadAdapter();
  const wsAdapter = await loadWebSocketAdapter();
  const payload = makePayload();
  const openTcp = () => tcpAdapter.connect({ hostname: HOST, port: server.tcpPort });
  const openWs = () => wsAdapter.connectWebSocket({ url: server.wsUrl });
  // Warm up both paths (code loaded, compiled, pools made) so the baseline holds them.
  for (const conns of [await openAll(50, openTcp), await openAll(50, openWs)]) {
    await Promise.all(conns.map((c) => c.request(ECHO_CMD, payload)));
    await Promise.all(conns.map((c) => c.close()));
  }
  for (const [transport, n, open] of [["tcp", CONNS, openTcp], ["websocket", WS_CONNS, openWs]] as const) {
    const before = await server.measure();
    const conns = await openAll(n, open);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = await server.measure();
    if (idle.connections < n) throw new Error(`${transport}: the server holds ${idle.connections} of ${n} connections`);
    steps.push({ transport, state: "idle", connections: n, rssKiB: perConn(before, idle, n, "rss"), heapKiB: perConn(before, idle, n, "heap") });
    for (let i = 0; i < conns.length; i += BATCH) {
      await Promise.all(conns.slice(i, i + BATCH).map((c) => c.request(ECHO_CMD, payload)));
    }
    const called = await server.measure();
    steps.push({ transport, state: "one call", connections: n, rssKiB: perConn(before, called, n, "rss"), heapKiB: perConn(before, called, n, "heap") });
    await Promise.all(conns.map((c) => c.close({ timeout: 1000 }).catch(() => c.destroy())));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
} finally {
  await server.stop();
}

const label = `${runtime} ${runtimeVersion()}`;
if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ bench: "memory", runtime, version: runtimeVersion(), steps, targetKiB: TARGET_KIB }));
} else {
  console.log(`\nMemory per connection on a weft server, ${label} (after full GCs)`);
  console.log("transport  state     connections  RSS KiB/conn  heap+external KiB/conn");
  console.log("---------  --------  -----------  ------------  ----------------------");
  for (const s of steps) {
    console.log(
      `${s.transport.padEnd(9)}  ${s.state.padEnd(8)}  ${String(s.connections).padStart(11)}  ${s.rssKiB.toFixed(1).padStart(12)}  ${s.heapKiB.toFixed(1).padStart(22)}`,
    );
  }
  const idle = steps.find((s) => s.transport === "tcp" && s.state === "idle")!;
  const called = steps.find((s) => s.transport === "tcp" && s.state === "one call")!;
  console.log(`idle TCP: ${idle.rssKiB.toFixed(1)} KiB/conn (target ${TARGET_KIB})${idle.rssKiB <= TARGET_KIB ? " -> met" : " -> NOT met"}`);
  console.log(`TCP after one call: ${called.rssKiB.toFixed(1)} KiB/conn (target ${2 * TARGET_KIB})${called.rssKiB <= 2 * TARGET_KIB ? " -> met" : " -> NOT met"}`);
}
process.exit(0);
