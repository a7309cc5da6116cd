/**
 * Deno: weft over WebSocket, served by `Deno.serve` through Hono (`hono/deno`), and the
 * client (Deno's own WebSocket).
 */
import { Hono } from "hono";
import { getConnInfo } from "hono/deno";
import { upgradeWebSocket } from "hono/deno";
import type { Server } from "../mod.ts";
import { connectWebSocket } from "../src/websocket_client.ts";
import { DEFAULT_HOSTNAME } from "./options.ts";
import { mountWeft } from "./hono.ts";
import { listenerUrl, type WebSocketListener, type WebSocketListenOptions } from "./websocket_options.ts";

export { connectWebSocket };
export type { WebSocketConnectOptions } from "../src/websocket_client.ts";
export type { WebSocketListener, WebSocketListenOptions } from "./websocket_options.ts";

/** Serves `server` over WebSocket on `options.path` (default /qrpc). */
export async function listenWebSocket(server: Server, options: WebSocketListenOptions = {}): Promise<WebSocketListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const path = options.path ?? "/qrpc";
  const app = mountWeft(options.app ?? new Hono(), server, { getConnInfo, ...options, upgradeWebSocket, path });
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const http = Deno.serve({
    hostname,
    port: options.port ?? 0,
    onListen: (address) => listening.resolve(address as Deno.NetAddr),
    onError: () => new Response("internal error", { status: 500 }),
  }, app.fetch);
  const { port } = await listening.promise;
  let shutdown: Promise<void> | null = null;
  const listener: WebSocketListener = {
    hostname,
    port,
    url: listenerUrl(hostname, port, path),
    close() {
      server.removeListener(listener);
      // Stops accepting at once; upgraded sockets are not waited for (server.close() ends them).
      shutdown ??= http.shutdown();
      return Promise.resolve();
    },
  };
  server.addListener(listener);
  return listener;
}
