/**
 * Server streaming: one request, a stream of typed replies the client walks with `for await`.
 *   npm run example:ticker     (or: bun examples/typed/ticker.ts, deno run -A examples/typed/ticker.ts)
 */
import * as v from "valibot";
import { Server } from "../../mod.ts";
import { createClient, router, serve, serverStream } from "../../src/typed/mod.ts";
import { connect, listen } from "../adapter.ts";

// ---- server side --------------------------------------------------------------------
const clock = router({
  ticker: serverStream(
    {
      input: v.object({ count: v.pipe(v.number(), v.integer(), v.minValue(1)), everyMs: v.number() }),
      output: v.object({ tick: v.number(), of: v.number() }),
    },
    // An async generator: each `yield` is one reply, validated against `output` on its way out.
    async function* ({ count, everyMs }, ctx) {
      // ctx.signal aborts when the caller stops listening: stop working instead of ticking into the void.
      ctx.signal.addEventListener("abort", () => console.log("[server] the client stopped listening: ticker stopped"));
      for (let tick = 1; tick <= count; tick++) {
        await sleep(everyMs, ctx.signal);
        yield { tick, of: count };
      }
      ctx.trailers.status = "complete"; // metadata on the stream's last frame
    },
  ),
});

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

const server = new Server();
serve(clock, server);
const listener = await listen(server, { port: 0 });

// ---- client side --------------------------------------------------------------------
const connection = await connect({ port: listener.port });
const client = createClient<typeof clock>(connection);

// Each reply arrives as the server yields it, typed as { tick, of }.
const ticks = client.ticker({ count: 3, everyMs: 50 });
for await (const { tick, of } of ticks) console.log(`[client] tick ${tick}/${of}`);
console.log(`[client] the server says: ${(await ticks.trailers).status}`);

// Leaving the loop early cancels the call: the server's handler sees ctx.signal abort.
for await (const { tick } of client.ticker({ count: 1000, everyMs: 20 })) {
  console.log(`[client] tick ${tick} of a long stream`);
  if (tick === 2) break;
}

await connection.close();
await server.close();
console.log("done");
