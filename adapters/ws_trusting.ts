/**
 * The `ws` package's WebSocket, trusting the given CAs for `wss://`: what the Node and Deno
 * clients use when `WebSocketConnectOptions.ca` is set (their standard WebSocket takes no CA).
 */
import { WebSocket as WsWebSocket } from "ws";
import type { WebSocketConstructor } from "../src/transports/websocket_client.ts";

export function wsTrusting(ca: string | string[]): WebSocketConstructor {
  return class extends WsWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { ca });
    }
  } as unknown as WebSocketConstructor;
}
