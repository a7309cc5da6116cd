/**
 * A channel: one client over two servers that come and go. Round-robin while both are up, a
 * graceful restart of one with nothing lost, a tracked stream that resumes across a dropped
 * connection, and the state changes along the way.
 *
 *   node --import tsx examples/channel.ts   (or: bun examples/channel.ts, deno run -A examples/channel.ts)
 */
import * as v from "valibot";
import { Server } from "../mod.ts";
import { createClient, router, serve, serverStream, tracked, unary } from "../src/typed/mod.ts";
import { createChannel, listen } from "./adapter.ts";

const api = router({
  whoami: unary({ input: v.optional(v.undefined()), output: v.string() }, () => ""), // each server answers its name (below)
  numbers: serverStream({ input: v.number(), output: v.number() }, async function* (count, ctx) {
    // Resumed calls start after the last id the client received.
    const from = ctx.lastEventId === undefined ? 0 : Number(ctx.lastEventId) + 1;
    for (let i = from; i < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      yield tracked(String(i), i);
    }
  }),
});

/** A server named `name` on `port` (0: any); whoami answers its name. */
async function start(name: string, port = 0) {
  const server = new Server();
  const routes = router({ ...api, whoami: unary({ input: v.optional(v.undefined()), output: v.string() }, () => name) });
  serve(routes, server);
  const listener = await listen(server, { port });
  return { name, server, port: listener.port, stop: async () => (await listener.close(), await server.close({ timeout: 1000 })) };
}

let a = await start("A");
const b = await start("B");
const channel = createChannel([`tcp://127.0.0.1:${a.port}`, `tcp://127.0.0.1:${b.port}`], {
  reconnect: { initialDelay: 50, maxDelay: 500 },
  onStatus: (s) => s.endpointState === "ready" && console.log(`[status] ${s.endpoint === `tcp://127.0.0.1:${a.port}` ? "A" : "B"} ready`),
});
const client = createClient<typeof api>(channel);

const names = [];
for (let i = 0; i < 4; i++) names.push(await client.whoami());
console.log(`1. round-robin: ${names.join(", ")}`);

const during = Array.from({ length: 20 }, () => client.whoami());
await a.stop(); // goaway: calls on A finish, new ones go to B
a = await start("A", a.port); // back on the same port
const served = await Promise.all(during);
console.log(`2. graceful restart of A: ${served.length} calls, ${served.length} answered, none failed`);

const items: number[] = [];
for await (const n of client.numbers(60)) {
  items.push(n);
  if (n === 20) for (const c of [...a.server.connections, ...b.server.connections]) c.destroy(); // drop every connection
}
const inOrder = items.every((n, i) => n === i);
console.log(`3. a tracked stream across a dropped connection: ${items.length} items, in order: ${inOrder}`);

await channel.close();
await a.stop();
await b.stop();
console.log("done");
