/**
 * The websocket bench's reference server: a plain WebSocket echo on 127.0.0.1, port 0, with this
 * runtime's own WebSocket server: `Bun.serve`'s websocket handler, `Deno.upgradeWebSocket`
 * under `Deno.serve`, the `ws` package's WebSocketServer on Node. Every binary message goes
 * straight back as one binary message; no framing, no Hono. Prints `PORT <n>` and exits when
 * its parent does (stdin EOF).
 *
 *   bun bench/servers/raw_websocket_echo.ts | deno run -A bench/servers/raw_websocket_echo.ts
 *   node --import tsx bench/servers/raw_websocket_echo.ts
 */
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST, runtime } from "../harness/runtime.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

function listenBun(): number {
  const server = g.Bun.serve({
    hostname: HOST,
    port: 0,
    // deno-lint-ignore no-explicit-any
    fetch(request: Request, server: any) {
      if (server.upgrade(request)) return undefined;
      return new Response("websocket only", { status: 400 });
    },
    websocket: {
      // deno-lint-ignore no-explicit-any
      message(ws: any, message: Uint8Array | string) {
        ws.send(message);
      },
    },
  });
  return server.port;
}

async function listenDeno(): Promise<number> {
  const listening = Promise.withResolvers<{ port: number }>();
  g.Deno.serve({
    hostname: HOST,
    port: 0,
    onListen: (address: { port: number }) => listening.resolve(address),
  }, (request: Request) => {
    const { socket, response } = g.Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event: MessageEvent) => socket.send(event.data);
    return response;
  });
  return (await listening.promise).port;
}

async function listenNode(): Promise<number> {
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ host: HOST, port: 0 });
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {});
  });
  return new Promise((resolve, reject) => {
    wss.once("error", reject);
    wss.once("listening", () => resolve((wss.address() as { port: number }).port));
  });
}

const port = runtime === "bun" ? listenBun() : runtime === "deno" ? await listenDeno() : await listenNode();
announcePort(port);
exitWithParent();
