/**
 * Bun: weft's WebSocket client on Bun's own WebSocket, with a private CA for `wss://` when
 * given. Apart from the server side (bun_websocket.ts) so a client pulls in no Hono.
 */
import type { Connection } from "../mod.ts";
import {
  connectWebSocket as connectWith,
  type WebSocketConnectOptions,
  type WebSocketConstructor,
} from "../src/transports/websocket_client.ts";

/** Opens a client connection with Bun's WebSocket, trusting `options.ca` for `wss://` when given. */
export function connectWebSocket(options: WebSocketConnectOptions): Promise<Connection> {
  const ca = options.ca;
  if (ca === undefined || options.WebSocket !== undefined) return connectWith(options);
  // Bun's WebSocket takes TLS options in a second argument that is an object.
  const Native = (globalThis as unknown as { WebSocket: new (url: string, options: object) => WebSocket }).WebSocket;
  const Trusting = class extends Native {
    constructor(url: string, protocols?: string | string[]) {
      super(url, { protocols, tls: { ca } });
    }
  };
  return connectWith({ ...options, WebSocket: Trusting as unknown as WebSocketConstructor });
}
