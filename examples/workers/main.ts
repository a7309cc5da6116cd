/**
 * The Workers example end to end: start worker.ts on workerd, call it over HTTP and over
 * weft, print what comes back, stop workerd.
 *   npm run example:workers    (or: bun examples/workers/main.ts, deno run -A examples/workers/main.ts)
 */
import { RpcError } from "../../mod.ts";
// The client side on Node, Bun or Deno: their global WebSocket, or the `ws` package on Node 20.
import { connectWebSocket } from "../../adapters/node_websocket.ts";
import { createClient } from "../../src/typed/mod.ts";
import type { api } from "./worker.ts"; // the type only: no Worker code runs here
import { startWorkerd } from "./run_workerd.ts";

const workerd = await startWorkerd();
console.log(`[workerd] listening on ${workerd.url} (started in ${workerd.startupMs} ms)`);
try {
  // The ordinary HTTP route, served by the same Hono app.
  const page = await fetch(workerd.url, { signal: AbortSignal.timeout(5000) });
  console.log(`[http] GET / -> ${page.status}: ${(await page.text()).trim()}`);

  const connection = await connectWebSocket({ url: `${workerd.url.replace("http", "ws")}/qrpc`, connectTimeout: 5000 });
  const client = createClient<typeof api>(connection);

  console.log(`[client] ${await client.hello({ name: "weft" }, { timeout: 5000 })}`);

  for await (const { tick, of } of client.ticker({ count: 3, everyMs: 50 }, { timeout: 5000 })) {
    console.log(`[client] tick ${tick}/${of}`);
  }

  // Validated on the Worker before the handler runs.
  try {
    await client.hello({ name: "" }, { timeout: 5000 });
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    console.log(`[client] refused: ${error.code}: ${error.message}`);
  }

  await connection.close();
} finally {
  await workerd.stop();
}
console.log("done");
