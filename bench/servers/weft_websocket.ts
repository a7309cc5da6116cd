/**
 * The websocket bench's weft server: a Server with the cmd-level echo handler on cmd 1 (as in
 * weft_tcp.ts), served over WebSocket by this runtime's adapter (`listenWebSocket` from
 * adapters/{bun,deno,node}_websocket.ts: a Hono app upgrading /qrpc) on 127.0.0.1, port 0.
 * Prints `PORT <n>` and exits when its parent does (stdin EOF).
 *
 *   bun bench/servers/weft_websocket.ts | deno run -A bench/servers/weft_websocket.ts
 *   node --import tsx bench/servers/weft_websocket.ts
 */
import { Server } from "../../mod.ts";
import { loadWebSocketAdapter } from "../harness/adapters.ts";
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST } from "../harness/runtime.ts";
import { ECHO_CMD } from "../harness/wire.ts";

const { listenWebSocket } = await loadWebSocketAdapter();
const server = new Server({
  onError: (error) => console.error("weft_websocket:", error),
});
server.handle(ECHO_CMD, (request) => request.payload);
const listener = await listenWebSocket(server, { hostname: HOST, port: 0 });
announcePort(listener.port);
exitWithParent();
