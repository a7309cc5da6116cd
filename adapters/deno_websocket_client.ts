/**
 * Deno: weft's WebSocket client on the `ws` package rather than Deno's own WebSocket, which
 * sends back-to-back messages 6-8 ms apart (it turns Nagle on: three calls made in one tick
 * reached the server at +0, +7 and +8 ms), serialising concurrent calls. Pass
 * `{ WebSocket: globalThis.WebSocket }` to use Deno's anyway. What `@weft/rpc/websocket`
 * resolves to on Deno (the "deno" export condition).
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

/** Opens a client connection (with the `ws` package unless `options.WebSocket` says otherwise). */
export function connectWebSocket(options: WebSocketConnectOptions): Promise<Connection> {
  const trusting = options.ca !== undefined ? wsTrusting(options.ca) : undefined;
  return connectWith({ ...options, WebSocket: options.WebSocket ?? trusting ?? (WsWebSocket as unknown as WebSocketConstructor) });
}
