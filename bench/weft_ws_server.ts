/**
 * websocket.ts's weft server: a Server with the cmd-level echo handler on cmd 1 (as in
 * weft_server.ts), served over WebSocket by this runtime's adapter (`listenWebSocket` from
 * adapters/{bun,deno,node}_websocket.ts: a Hono app upgrading /qrpc) on 127.0.0.1, port 0.
 * Prints `PORT <n>` and exits when its parent does (stdin EOF).
 *
 *   bun bench/weft_ws_server.ts | deno run -A bench/weft_ws_server.ts
 *   node --import tsx bench/weft_ws_server.ts
 */
import { Server } from "../mod.ts";
import { announcePort, ECHO_CMD, exitWithParent, HOST } from "./common.ts";
import { loadWebSocketAdapter } from "./ws_adapter.ts";

const { listenWebSocket } = await loadWebSocketAdapter();
const server = new Server({
  onError: (error) => console.error("weft_ws_server:", error),
});
server.handle(ECHO_CMD, (request) => request.payload);
const listener = await listenWebSocket(server, { hostname: HOST, port: 0 });
announcePort(listener.port);
exitWithParent();
