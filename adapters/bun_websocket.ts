/**
 * Bun: weft over WebSocket, served by `Bun.serve` through Hono (`hono/bun`), and the
 * client (Bun's own WebSocket).
 */
import { Hono } from "hono";
import { getConnInfo } from "hono/bun";
import { upgradeWebSocket, websocket } from "hono/bun";
import type { Server } from "../mod.ts";
import { bunApi } from "./bun_api.ts";
import { DEFAULT_HOSTNAME } from "./options.ts";
import { mountWeft, withDrain } from "./hono.ts";
import { listenerUrl, type WebSocketListener, type WebSocketListenOptions } from "./websocket_options.ts";

export { connectWebSocket } from "./bun_websocket_client.ts";
export type { WebSocketConnectOptions } from "../src/transports/websocket_client.ts";
export type { WebSocketListener, WebSocketListenOptions } from "./websocket_options.ts";

/** Serves `server` over WebSocket on `options.path` (default /qrpc). */
export function listenWebSocket(server: Server, options: WebSocketListenOptions = {}): Promise<WebSocketListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const path = options.path ?? "/qrpc";
  const app = mountWeft(options.app ?? new Hono(), server, { getConnInfo, ...options, upgradeWebSocket, path });
  let http;
  try {
    const tls = options.tls ? { cert: options.tls.cert, key: options.tls.key } : undefined;
    http = bunApi().serve({ hostname, port: options.port ?? 0, tls, fetch: app.fetch, websocket: withDrain(websocket) });
  } catch (error) {
    return Promise.reject(error);
  }
  const port = http.port!;
  const listener: WebSocketListener = {
    hostname,
    port,
    url: listenerUrl(hostname, port, path, options.tls !== undefined),
    endpoint: listenerUrl(hostname, port, path, options.tls !== undefined),
    close() {
      server.removeListener(listener);
      http.stop(false); // stop accepting; live connections are server.close()'s
      return Promise.resolve();
    },
  };
  server.addListener(listener);
  return Promise.resolve(listener);
}
