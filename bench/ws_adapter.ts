/**
 * Loads the weft WebSocket adapter of the runtime the bench runs on, and finds the WebSocket
 * client class that adapter's client uses there, so websocket.ts's raw and capnweb rows use
 * the same WebSocket implementation as its weft row.
 */
import type { Connection, Server } from "../mod.ts";
import type { WebSocketConnectOptions, WebSocketConstructor } from "../src/transports/websocket_client.ts";
import { runtime, withTimeout } from "./common.ts";

export interface WebSocketAdapter {
  listenWebSocket(
    server: Server,
    options?: { hostname?: string; port?: number; path?: string },
  ): Promise<{ port: number; url: string; close(): Promise<void> }>;
  connectWebSocket(options: WebSocketConnectOptions): Promise<Connection>;
}

export async function loadWebSocketAdapter(): Promise<WebSocketAdapter> {
  // Literal specifiers, one per runtime, so only the matching adapter is ever loaded. The
  // Bun and Deno ones are outside tsconfig's scope (they need those runtimes' types).
  // deno-lint-ignore no-explicit-any
  if (runtime === "bun") return (await import("../adapters/" + "bun_websocket.ts")) as any;
  // deno-lint-ignore no-explicit-any
  if (runtime === "deno") return (await import("../adapters/" + "deno_websocket.ts")) as any;
  return await import("../adapters/node_websocket.ts");
}

/**
 * The WebSocket client class `connectWebSocket` uses by default on this runtime, found by
 * watching it: one probe connection to `url` (a weft server) with the global WebSocket
 * (if any) swapped for a subclass that notes being constructed. If the adapter took the
 * global, that is the class; otherwise it is the `ws` package's (Node 20 has no global; the
 * Deno adapter may prefer `ws`).
 */
export async function weftClientWebSocket(
  connect: (options: WebSocketConnectOptions) => Promise<Connection>,
  url: string,
): Promise<{ WebSocket: WebSocketConstructor; name: string }> {
  const g = globalThis as { WebSocket?: WebSocketConstructor };
  const global = g.WebSocket;
  let usedGlobal = false;
  if (global !== undefined) {
    g.WebSocket = class extends (global as unknown as new (url: string, protocols?: string | string[]) => object) {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        usedGlobal = true;
      }
    } as unknown as WebSocketConstructor;
  }
  let conn: Connection;
  try {
    conn = await connect({ url });
  } finally {
    if (global !== undefined) g.WebSocket = global;
  }
  await withTimeout(conn.close({ timeout: 1000 }), 5000, "probe connection: close hung", () => conn.destroy()).catch(
    () => {},
  );
  if (usedGlobal) return { WebSocket: global!, name: `${runtime}'s own WebSocket` };
  const ws = await import("ws");
  return { WebSocket: ws.WebSocket as unknown as WebSocketConstructor, name: "the ws package's WebSocket" };
}
