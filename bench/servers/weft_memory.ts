/**
 * The memory bench's server: a weft Server with the echo handler on cmd 1, served over TCP
 * and over WebSocket by this runtime's adapters on 127.0.0.1 (ports 0). Prints
 * `PORT <tcp port> <websocket url>`, then answers each `measure` line on stdin with a `MEMORY {json}`
 * line: its memory after a full garbage collection. Exits on stdin EOF.
 *
 *   node --expose-gc --import tsx bench/servers/weft_memory.ts
 *   bun bench/servers/weft_memory.ts | deno run -A --v8-flags=--expose-gc bench/servers/weft_memory.ts
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { Server } from "../../mod.ts";
import { loadAdapter, loadWebSocketAdapter } from "../harness/adapters.ts";
import { HOST } from "../harness/runtime.ts";
import { ECHO_CMD } from "../harness/wire.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

const server = new Server({ onError: (error) => console.error("weft_memory:", error) });
server.handle(ECHO_CMD, (request) => request.payload);
const tcp = await (await loadAdapter()).listen(server, { hostname: HOST, port: 0 });
const ws = await (await loadWebSocketAdapter()).listenWebSocket(server, { hostname: HOST, port: 0 });

/** Full collections until the heap stops shrinking (a few), then the process's figures. */
async function measure(): Promise<Record<string, number>> {
  const collect = g.Bun !== undefined ? () => g.Bun.gc(true) : typeof g.gc === "function" ? () => g.gc() : null;
  for (let i = 0; i < 4; i++) {
    collect?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    connections: server.connections.size,
    collected: collect === null ? 0 : 1,
  };
}

console.log(`PORT ${tcp.port} ${ws.url}`);
const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  if (line.trim() === "measure") console.log(`MEMORY ${JSON.stringify(await measure())}`);
});
lines.on("close", () => process.exit(0));
