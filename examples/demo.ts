/**
 * The demo: a weft server and a client on 127.0.0.1 going through every mode.
 *   npm run demo     (Node)   |   deno task demo   |   bun run demo
 */
import { listen, runtime } from "./adapter.ts";
import { runClient } from "./client.ts";
import { createServer } from "./server.ts";

console.log(`weft demo on ${runtime}`);
const server = createServer();
const listener = await listen(server, { port: 0 });
console.log(`  [server] listening on ${listener.hostname}:${listener.port}`);

await runClient(listener.port);

await server.close({ timeout: 1000 });
console.log("done: server closed gracefully");
