/**
 * weft in a browser: one Hono app serves the page, its code (client.ts, bundled for the
 * browser with esbuild when the server starts) and weft on /qrpc, all from one origin.
 *   npm run example:browser    (or: bun examples/browser/server.ts, deno run -A examples/browser/server.ts)
 * then open the URL it prints. PORT=8080 picks the port (default 3000; 0: any free port).
 *
 * It runs on Bun, Deno and Node by picking the runtime's WebSocket adapter, as
 * examples/adapter.ts does for TCP. In an application, import the one you use:
 *   import { listenWebSocket } from "@weft/rpc/node/websocket"; // or bun/websocket, deno/websocket
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { Hono } from "hono";
import * as v from "valibot";
import type { WebSocketListener, WebSocketListenOptions } from "../../adapters/websocket_options.ts";
import { RpcError, Server } from "../../mod.ts";
import { createClient, event, router, serve, serverStream, unary } from "../../src/typed/mod.ts";
import type { Prompts } from "./client.ts";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
const runtime = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";
const { listenWebSocket }: {
  listenWebSocket(server: Server, options?: WebSocketListenOptions): Promise<WebSocketListener>;
} = await import(`../../adapters/${runtime}_websocket.ts`);

// ---- the procedures the page calls --------------------------------------------------
const api = router({
  // (a) unary
  hello: unary({ input: v.object({ name: v.pipe(v.string(), v.minLength(1)) }), output: v.string() }, ({ name }) => {
    console.log(`[server] hello from ${name}`);
    return `hello, ${name}`;
  }),
  // (b) a server stream: one reply per tick
  ticker: serverStream(
    { input: v.object({ count: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)) }), output: v.object({ tick: v.number(), of: v.number() }) },
    async function* ({ count }, ctx) {
      for (let tick = 1; tick <= count && !ctx.signal.aborted; tick++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        yield { tick, of: count };
      }
    },
  ),
  // (c) an event the server pushes; join() makes it push one to the caller
  notice: event(v.object({ text: v.string() })),
  join: unary({ input: v.object({ user: v.string() }), output: v.null() }, ({ user }, ctx) => {
    served.emitTo(ctx.connection).notice({ text: `welcome, ${user}: this was pushed by the server` });
    console.log(`[server] pushed a notice to ${user}`);
    return null;
  }),
  // (d) the server calls the page: deploy asks the browser to confirm first
  deploy: unary({ input: v.object({ version: v.string(), day: v.string() }), output: v.string() }, async (input, ctx) => {
    const browser = createClient<Prompts>(ctx.connection);
    const question = `deploy ${input.version} on ${input.day}?`;
    const yes = await browser.confirm({ question }, { timeout: 5000 });
    console.log(`[server] the browser answered "${question}": ${yes ? "yes" : "no"}`);
    if (!yes) throw new RpcError("aborted", `the browser declined ${input.version}`);
    return `${input.version} is live`;
  }),
});
export type Api = typeof api;

const server = new Server();
const served = serve(api, server);

// ---- the page and its code ------------------------------------------------------------
// Bundled in memory at start. Code splitting keeps what the page may never run (serve()'s
// optional reflection procedure and its JSON Schema converter) in chunks of their own,
// fetched only if used.
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const built = await esbuild.build({
  entryPoints: { client: here("client.ts") },
  bundle: true,
  splitting: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: "inline",
  outdir: "/", // nothing is written: the files stay in memory, served by name below
  chunkNames: "chunk-[hash]",
  write: false,
  logLevel: "warning",
});
await esbuild.stop(); // the bundle is in memory; esbuild's service process can go
const scripts = new Map(built.outputFiles.map((file) => [file.path.slice(file.path.lastIndexOf("/") + 1), file.text]));
const indexHtml = readFileSync(here("index.html"), "utf8");

const app = new Hono();
app.get("/", (c) => c.html(indexHtml));
app.get("/:file{[\\w-]+\\.js}", (c) => {
  const script = scripts.get(c.req.param("file"));
  return script === undefined ? c.notFound() : c.body(script, 200, { "content-type": "text/javascript; charset=utf-8" });
});

// listenWebSocket adds /qrpc to the same app and serves it.
const port = Number(process.env.PORT ?? 3000);
const listener = await listenWebSocket(server, { port, app });
console.log(`weft browser example on ${runtime}: open http://${listener.hostname}:${listener.port}/`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await listener.close();
  await server.close({ timeout: 1000 });
  console.log("[server] closed");
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
