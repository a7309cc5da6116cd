/**
 * weft's TCP server with lent payloads (ConnectionOptions.lendPayloads), for stream's
 * `weft-lend` 1 MiB rows: the cmd-1 echo of weft_tcp.ts, whose request payload (assembled
 * into a pooled buffer) goes back to the pool once the reply that is that payload has left.
 * Prints `PORT <n>` and exits when its parent does (stdin EOF).
 *
 *   bun bench/servers/weft_lending.ts | deno run -A bench/servers/weft_lending.ts
 *   node --import tsx bench/servers/weft_lending.ts
 */
import { Server } from "../../mod.ts";
import { loadAdapter } from "../harness/adapters.ts";
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST } from "../harness/runtime.ts";
import { ECHO_CMD } from "../harness/wire.ts";

const { listen } = await loadAdapter();
const server = new Server({ lendPayloads: true, onError: (error) => console.error("weft_lending:", error) });
server.handle(ECHO_CMD, (request) => request.payload);
const listener = await listen(server, { hostname: HOST, port: 0 });
announcePort(listener.port);
exitWithParent();
