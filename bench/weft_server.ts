/**
 * weft's server for the benches: a Server with a cmd-level echo handler on cmd 1 (unary.ts,
 * and stream.ts's 1 MiB echo) and a server-streaming handler on cmd 3 (stream.ts: the
 * request payload is a u32 count n, the reply is n frames of one 32-byte payload each),
 * served by this runtime's adapter on 127.0.0.1, port 0. Prints `PORT <n>` and exits
 * when its parent does (stdin EOF).
 *
 *   bun bench/weft_server.ts | deno run -A bench/weft_server.ts
 *   node --import tsx bench/weft_server.ts
 */
import { Server } from "../mod.ts";
import { announcePort, ECHO_CMD, exitWithParent, HOST, makePayload, readU32, STREAM_CMD } from "./common.ts";
import { loadAdapter } from "./adapter.ts";

const { listen } = await loadAdapter();
const server = new Server({
  onError: (error) => console.error("weft_server:", error),
});
server.handle(ECHO_CMD, (request) => request.payload);
const STREAM_PAYLOAD = makePayload();
// As an application writes it: one yield per message, each one frame.
server.handle(STREAM_CMD, async function* (request) {
  const n = readU32(request.payload);
  for (let i = 0; i < n; i++) yield STREAM_PAYLOAD;
});
const listener = await listen(server, { hostname: HOST, port: 0 });
announcePort(listener.port);
exitWithParent();
