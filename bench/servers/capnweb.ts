/**
 * The websocket bench's capnweb server: a capnweb RpcTarget whose `echo(bytes)` returns its
 * argument, served over WebSocket with capnweb's own session API on 127.0.0.1, port 0:
 * `newBunWebSocketRpcHandler` under `Bun.serve` on Bun, `newWebSocketRpcSession` on the
 * socket of `Deno.upgradeWebSocket` on Deno and of the `ws` package's WebSocketServer on
 * Node (as capnweb's README sets them up). Prints `PORT <n>` and exits when its parent does
 * (stdin EOF).
 *
 *   bun bench/servers/capnweb.ts | deno run -A bench/servers/capnweb.ts
 *   node --import tsx bench/servers/capnweb.ts
 */
import * as capnweb from "capnweb";
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST, runtime } from "../harness/runtime.ts";
import { withGlobalWebSocket } from "../reference/capnweb_client.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
// deno-lint-ignore no-explicit-any
const api = capnweb as any;

/** The API: bytes in, the same bytes out. */
export class EchoApi extends capnweb.RpcTarget {
  echo(bytes: Uint8Array): Uint8Array {
    return bytes;
  }
}

function listenBun(): number {
  const server = g.Bun.serve({
    hostname: HOST,
    port: 0,
    // deno-lint-ignore no-explicit-any
    fetch(request: Request, server: any) {
      if (server.upgrade(request)) return undefined;
      return new Response("websocket only", { status: 400 });
    },
    websocket: api.newBunWebSocketRpcHandler(() => new EchoApi()),
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
    socket.addEventListener("open", () => capnweb.newWebSocketRpcSession(socket, new EchoApi()));
    return response;
  });
  return (await listening.promise).port;
}

async function listenNode(): Promise<number> {
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ host: HOST, port: 0 });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    // ws's socket is compatible enough (capnweb's README); Node 20 has no global WebSocket,
    // whose constants capnweb reads while setting up.
    withGlobalWebSocket(() => capnweb.newWebSocketRpcSession(ws as never, new EchoApi()));
  });
  return new Promise((resolve, reject) => {
    wss.once("error", reject);
    wss.once("listening", () => resolve((wss.address() as { port: number }).port));
  });
}

const port = runtime === "bun" ? listenBun() : runtime === "deno" ? await listenDeno() : await listenNode();
announcePort(port);
exitWithParent();
