/**
 * weft's server for the unary bench: a Server with a cmd-level echo handler on cmd 1,
 * served by this runtime's adapter on 127.0.0.1, port 0. Prints `PORT <n>` and exits
 * when its parent does (stdin EOF).
 *
 *   bun bench/weft_server.ts | deno run -A bench/weft_server.ts
 *   node --import tsx bench/weft_server.ts
 */
import { Server } from "../mod.ts";
import { announcePort, ECHO_CMD, exitWithParent, HOST } from "./common.ts";
import { loadAdapter } from "./adapter.ts";

const { listen } = await loadAdapter();
const server = new Server({
  onError: (error) => console.error("weft_server:", error),
});
server.handle(ECHO_CMD, (request) => request.payload);
const listener = await listen(server, { hostname: HOST, port: 0 });
announcePort(listener.port);
exitWithParent();
