/**
 * The demo: a weft server and a client on 127.0.0.1, in one process, on whichever runtime
 * runs it. First typed procedures (what most applications use), then the qrpc modes
 * underneath them, on numbered cmds and bytes.
 *   npm run demo     (Node)   |   deno task demo   |   bun run demo:bun
 */
import { listen, runtime } from "./adapter.ts";
import { runClient } from "./client.ts";
import { createServer } from "./server.ts";
import { typedTour } from "./typed_tour.ts";

console.log(`weft demo on ${runtime}: a server and a client on 127.0.0.1`);

console.log("\nPart 1. Typed procedures (@weft/rpc/typed): valibot schemas, types from the router");
await typedTour();

console.log("\nPart 2. The qrpc modes underneath (@weft/rpc): numbered cmds, bytes, byte-compatible with Go qrpc");
const server = createServer();
const listener = await listen(server, { port: 0 });
console.log(`     [server] listening on ${listener.hostname}:${listener.port}`);

await runClient(listener.port);

await server.close({ timeout: 1000 });
console.log("\ndone: server closed gracefully");
