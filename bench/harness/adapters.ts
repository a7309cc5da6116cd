/**
 * weft's adapters for the runtime under test (TCP, and WebSocket), loaded by literal
 * specifier so only the matching one is ever loaded; and the WebSocket client class weft's
 * client uses there, so the websocket bench's raw and capnweb rows use the same one.
 */
import process from "node:process";
import type { Connection, ConnectionOptions, Server } from "../../mod.ts";
import type { WebSocketConnectOptions, WebSocketConstructor } from "../../src/transports/websocket_client.ts";
import { runtime } from "./runtime.ts";
import { withTimeout } from "./watchdog.ts";

export interface Adapter {
  listen(server: Server, options?: { hostname?: string; port?: number }): Promise<{ port: number; close(): Promise<void> }>;
  connect(options: { hostname?: string; port: number } & ConnectionOptions): Promise<Connection>;
}

export async function loadAdapter(): Promise<Adapter> {
  if (runtime === "bun") return await import("../../adapters/bun.ts");
  // deno.ts is not in tsconfig's scope (it needs Deno's types); Deno itself loads it fine.
  // deno-lint-ignore no-explicit-any
  if (runtime === "deno") return (await import("../../adapters/" + "deno.ts")) as any;
  return await import("../../adapters/node.ts");
}

export interface WebSocketAdapter {
  listenWebSocket(
    server: Server,
    options?: { hostname?: string; port?: number; path?: string },
  ): Promise<{ port: number; url: string; close(): Promise<void> }>;
  connectWebSocket(options: WebSocketConnectOptions): Promise<Connection>;
}

export async function loadWebSocketAdapter(): Promise<WebSocketAdapter> {
  // The Bun and Deno ones are outside tsconfig's scope (they need those runtimes' types).
  // deno-lint-ignore no-explicit-any
  if (runtime === "bun") return (await import("../../adapters/" + "bun_websocket.ts")) as any;
  // deno-lint-ignore no-explicit-any
  if (runtime === "deno") return (await import("../../adapters/" + "deno_websocket.ts")) as any;
  return await import("../../adapters/node_websocket.ts");
}

export interface ClientWebSocket {
  WebSocket: WebSocketConstructor;
  name: string;
  /** Chosen by BENCH_WS_CLIENT, for every row (weft's included). */
  forced: boolean;
}

/**
 * The WebSocket client class of every row: BENCH_WS_CLIENT=global (the runtime's own) or
 * =ws (the `ws` package's), else the one `connect` (weft's) uses by default here, found by
 * watching it: one probe connection to `url` (a weft server) with the global WebSocket (if
 * any) swapped for a subclass that notes being constructed. If the adapter took the
 * global, that is the class; otherwise it is the `ws` package's (Node 20 has no global; the
 * Deno adapter may prefer `ws`).
 */
export async function clientWebSocket(
  connect: (options: WebSocketConnectOptions) => Promise<Connection>,
  url: string,
): Promise<ClientWebSocket> {
  const g = globalThis as { WebSocket?: WebSocketConstructor };
  const global = g.WebSocket;
  const choice = process.env.BENCH_WS_CLIENT ?? "";
  if (choice === "ws") {
    const ws = await import("ws");
    const WebSocket = ws.WebSocket as unknown as WebSocketConstructor;
    return { WebSocket, name: "the ws package's WebSocket (BENCH_WS_CLIENT)", forced: true };
  }
  if (choice === "global" && global !== undefined) {
    return { WebSocket: global, name: `${runtime}'s own WebSocket (BENCH_WS_CLIENT)`, forced: true };
  }
  if (choice !== "") {
    throw new Error(`BENCH_WS_CLIENT=${choice}: expected "ws" or "global" (where there is a global WebSocket)`);
  }
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
  if (usedGlobal) return { WebSocket: global!, name: `${runtime}'s own WebSocket`, forced: false };
  const ws = await import("ws");
  return { WebSocket: ws.WebSocket as unknown as WebSocketConstructor, name: "the ws package's WebSocket", forced: false };
}
