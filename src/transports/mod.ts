/**
 * transports: byte streams the engine runs over that are not a runtime's TCP socket (those
 * are in adapters/). A WebSocket as a Transport (one frame per message out, any split in,
 * backpressure on the socket's buffered amount) and the client that opens one on the
 * standard `WebSocket`. May import `engine/`, `wire/` and `common/`; no runtime APIs.
 *
 * @module
 */
export {
  connectWebSocket,
  messageSocketOf,
  type WebSocketConnectOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./websocket_client.ts";
export { type MessageSocket, WebSocketTransport } from "./websocket_transport.ts";
