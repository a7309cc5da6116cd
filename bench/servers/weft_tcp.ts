/**
 * weft's TCP server for the benches: a Server with a cmd-level echo handler on cmd 1 (unary,
 * typed, and stream's 1 MiB echo), a server-streaming handler on cmd 3 (stream: the request
 * payload is a u32 count n, the reply is n frames of one 32-byte payload each), and the typed
 * bench's router (typed_routes.ts: calls by name on cmd 0xFFFF), served by this runtime's
 * adapter on 127.0.0.1, port 0. Prints `PORT <n>` and exits when its parent does (stdin EOF).
 *
 *   bun bench/servers/weft_tcp.ts | deno run -A bench/servers/weft_tcp.ts
 *   node --import tsx bench/servers/weft_tcp.ts
 *
 * BENCH_STATS=1 gives the Server a stats collector's hooks (src/metrics/stats.ts), to measure
 * what instrumentation costs.
 */
import process from "node:process";
import { Server } from "../../mod.ts";
import { Stats } from "../../src/metrics/mod.ts";
import { serve } from "../../src/typed/mod.ts";
import { loadAdapter } from "../harness/adapters.ts";
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST } from "../harness/runtime.ts";
import { ECHO_CMD, makePayload, readU32, STREAM_CMD } from "../harness/wire.ts";
import { typedRoutes } from "./typed_routes.ts";

const { listen } = await loadAdapter();
const server = new Server({
  onError: (error) => console.error("weft_tcp:", error),
  hooks: process.env.BENCH_STATS === "1" ? new Stats({ router: typedRoutes }).hooks : undefined,
});
server.handle(ECHO_CMD, (request) => request.payload);
const STREAM_PAYLOAD = makePayload();
// As an application writes it: one yield per message, each one frame.
server.handle(STREAM_CMD, async function* (request) {
  const n = readU32(request.payload);
  for (let i = 0; i < n; i++) yield STREAM_PAYLOAD;
});
serve(typedRoutes, server);
const listener = await listen(server, { hostname: HOST, port: 0 });
announcePort(listener.port);
exitWithParent();
