/**
 * Node: weft over WebSocket, served by `@hono/node-server` (its `upgradeWebSocket`, on the
 * `ws` package), and the client: Node 22's global WebSocket, or `ws` on Node 20
 * (`node_websocket_client.ts`).
 */
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { serve, upgradeWebSocket } from "@hono/node-server";
import { Hono } from "hono";
import { getConnInfo } from "@hono/node-server/conninfo";
import { WebSocketServer } from "ws";
import type { Server } from "../mod.ts";
import { DEFAULT_HOSTNAME } from "./options.ts";
import { mountWeft } from "./hono.ts";
import { listenerUrl, type WebSocketListener, type WebSocketListenOptions } from "./websocket_options.ts";

export { connectWebSocket } from "./node_websocket_client.ts";
export type { WebSocketConnectOptions } from "../src/transports/websocket_client.ts";
export type { WebSocketListener, WebSocketListenOptions } from "./websocket_options.ts";

/** Serves `server` over WebSocket on `options.path` (default /qrpc). */
export function listenWebSocket(server: Server, options: WebSocketListenOptions = {}): Promise<WebSocketListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const path = options.path ?? "/qrpc";
  const app = mountWeft(options.app ?? new Hono(), server, { getConnInfo, ...options, upgradeWebSocket, path });
  const wss = new WebSocketServer({ noServer: true });
  return new Promise((resolve, reject) => {
    const tls = options.tls;
    const https = tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {};
    const http = serve({ fetch: app.fetch, hostname, port: options.port ?? 0, websocket: { server: wss }, ...https }, (info) => {
      http.off("error", reject);
      const port = (info as AddressInfo).port;
      const listener: WebSocketListener = {
        hostname,
        port,
        url: listenerUrl(hostname, port, path, tls !== undefined),
        endpoint: listenerUrl(hostname, port, path, tls !== undefined),
        close() {
          server.removeListener(listener);
          // Stops accepting now; live sockets are server.close()'s business.
          if (http.listening) http.close();
          return Promise.resolve();
        },
      };
      server.addListener(listener);
      resolve(listener);
    });
    http.once("error", reject);
  });
}
