/**
 * engine: calls over one connection. `Connection` runs both ends (either side calls, streams
 * and pushes); `Server` serves many. The calling side (call.ts, response.ts), the serving
 * side (serving.ts, served_request.ts, mux.ts), receive streams and flow control, and the Transport
 * seam that adapters and transports plug into; a Server's registration while it listens
 * (advertisement.ts). May import `cluster/` (the Registry interface), `wire/` and `common/`;
 * knows nothing of codecs, runtimes or WebSocket.
 *
 * @module
 */
export { Call, type CallOptions, PendingCall } from "./call.ts";
export { type CloseOptions, Connection, type ConnectionOptions, type Role } from "./connection.ts";
export type { EndHook, Hooks } from "./hooks.ts";
export { combineHooks } from "./hooks.ts";
export type { IncomingRequest, StreamCounts } from "./api.ts";
export { HeartbeatLost } from "./liveness.ts";
export { MessageStream } from "./message_stream.ts";
export { type Handler, type HandlerResult, Mux, type PushHandler, type PushMessage, type Reply } from "./mux.ts";
export { Response } from "./response.ts";
export { type Listener, Server, type ServerOptions } from "./server.ts";
export { DEFAULT_SERVER_TTL_MS, type ServerRegistration } from "./advertisement.ts";
export type { BroadcastStats, SlowConsumerOptions, SlowConsumerPolicy } from "./slow_consumers.ts";
export type { CapOptions } from "./connection_caps.ts";
export type { Transport } from "./transport.ts";
