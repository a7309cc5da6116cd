/**
 * Node: weft's WebSocket client on Node 22's global WebSocket, or on the `ws` package where
 * there is none (Node 20). What `@weft/rpc/websocket` resolves to on Node (the "node"
 * export condition), so the same import works there as in a browser.
 */
import { WebSocket as WsWebSocket } from "ws";
import type { Connection } from "../mod.ts";
import {
  connectWebSocket as connectWith,
  type WebSocketConnectOptions,
  type WebSocketConstructor,
} from "../src/transports/websocket_client.ts";
import { wsTrusting } from "./ws_trusting.ts";

export { messageSocketOf } from "../src/transports/websocket_client.ts";
export type { WebSocketConnectOptions, WebSocketConstructor, WebSocketLike } from "../src/transports/websocket_client.ts";

/** Opens a client connection; without a global WebSocket (Node 20) it uses the `ws` package. */
export function connectWebSocket(options: WebSocketConnectOptions): Promise<Connection> {
  if (options.ca !== undefined && options.WebSocket === undefined) {
    return connectWith({ ...options, WebSocket: wsTrusting(options.ca) }); // the global one takes no CA
  }
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return connectWith({ ...options, WebSocket: options.WebSocket ?? global ?? (WsWebSocket as unknown as WebSocketConstructor) });
}
