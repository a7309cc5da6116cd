/**
 * weft on Cloudflare Workers: one Hono app serves an ordinary HTTP route and weft's
 * WebSocket endpoint (/qrpc) side by side. Run it on workerd, the Workers runtime:
 *   npm run example:workers
 * (examples/workers/run_workerd.ts bundles this file with esbuild and starts workerd).
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/cloudflare-workers";
import * as v from "valibot";
import { Server } from "../../mod.ts";
import { mountWeft } from "../../adapters/hono.ts";
import { router, serve, serverStream, unary } from "../../src/typed/mod.ts";

/** The contract. A client imports only its type: `createClient<typeof api>(connection)`. */
export const api = router({
  hello: unary(
    { input: v.object({ name: v.pipe(v.string(), v.minLength(1)) }), output: v.string() },
    ({ name }) => `hello, ${name}, from workerd`,
  ),
  ticker: serverStream(
    {
      input: v.object({ count: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)), everyMs: v.number() }),
      output: v.object({ tick: v.number(), of: v.number() }),
    },
    async function* ({ count, everyMs }, ctx) {
      for (let tick = 1; tick <= count && !ctx.signal.aborted; tick++) {
        // Timers work in a Worker while a request (here, the WebSocket) is alive.
        await new Promise((resolve) => setTimeout(resolve, everyMs));
        yield { tick, of: count };
      }
    },
  ),
});

// One Server per isolate, made when the module loads: each WebSocket upgrade is a
// request, and its connection lives (and does its I/O) inside that request.
const server = new Server();
serve(api, server);

const app = new Hono();
app.get("/", (c) => c.text("weft on workerd: connect a weft client to /qrpc\n"));
// Hono's Workers helper never calls onOpen: the server side starts on the socket's first
// message, which weft's client sends (an empty one) as soon as the socket opens.
mountWeft(app, server, { upgradeWebSocket });

export default app;
