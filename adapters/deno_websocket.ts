/**
 * Deno: weft over WebSocket, served by `Deno.serve` through Hono (`hono/deno`), and the
 * client, which defaults to the `ws` package rather than Deno's own WebSocket (see
 * `deno_websocket_client.ts` for why).
 */
import { Hono } from "hono";
import { getConnInfo, upgradeWebSocket } from "hono/deno";
import type { Connection, Server } from "../mod.ts";
import { denoApi, type DenoNetAddr } from "./deno_api.ts";
import { DEFAULT_HOSTNAME } from "./options.ts";
import { mountWeft } from "./hono.ts";
import { listenerUrl, type WebSocketListener, type WebSocketListenOptions } from "./websocket_options.ts";

export { connectWebSocket } from "./deno_websocket_client.ts";
export type { WebSocketConnectOptions } from "../src/transports/websocket_client.ts";
export type { WebSocketListener, WebSocketListenOptions } from "./websocket_options.ts";

/** Serves `server` over WebSocket on `options.path` (default /qrpc). */
export async function listenWebSocket(server: Server, options: WebSocketListenOptions = {}): Promise<WebSocketListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const path = options.path ?? "/qrpc";
  // Deno's shutdown() also ends upgraded sockets, which are server.close()'s to end. So a
  // closed listener first refuses new requests, and shuts down once its connections are gone.
  const live = new Set<Connection>();
  let closed = false;
  const app = mountWeft(options.app ?? new Hono(), server, {
    getConnInfo,
    ...options,
    upgradeWebSocket,
    path,
    onConnection(connection) {
      live.add(connection);
      connection.closed.then(() => {
        live.delete(connection);
        if (closed && live.size === 0) void http.shutdown();
      });
      options.onConnection?.(connection);
    },
  });
  let listened!: (address: DenoNetAddr) => void;
  const listening = new Promise<DenoNetAddr>((resolve) => (listened = resolve));
  const http = denoApi().serve({
    hostname,
    port: options.port ?? 0,
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
    onListen: (address) => listened(address),
    onError: () => new Response("internal error", { status: 500 }),
  }, (request, info) => closed ? new Response("weft: server is closing", { status: 503 }) : app.fetch(request, info));
  const { port } = await listening;
  const listener: WebSocketListener = {
    hostname,
    port,
    url: listenerUrl(hostname, port, path, options.tls !== undefined),
    endpoint: listenerUrl(hostname, port, path, options.tls !== undefined),
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      server.removeListener(listener);
      if (live.size === 0) void http.shutdown();
      return Promise.resolve();
    },
  };
  server.addListener(listener);
  return listener;
}
