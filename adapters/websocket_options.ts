/** Options and shapes shared by the WebSocket adapters, so all three read the same. */
import type { Hono } from "hono";
import type { WeftRouteOptions } from "./hono.ts";
import type { TlsServerOptions } from "./options.ts";

export interface WebSocketListenOptions extends WeftRouteOptions {
  /** Default "127.0.0.1". */
  hostname?: string;
  /** Default 0: the system picks a free port (read it back from `listener.port`). */
  port?: number;
  /** Default "/qrpc", as qrpc's bridge. */
  path?: string;
  /** An app of your own to mount weft on, beside its other routes. Default: a new one. */
  // deno-lint-ignore no-explicit-any
  app?: Hono<any, any, any>;
  /** Serve HTTPS, so clients connect with `wss://` (PEM certificate and key). */
  tls?: TlsServerOptions;
}

/** An HTTP server that upgrades `path` to weft connections on a Server. */
export interface WebSocketListener {
  readonly hostname: string;
  readonly port: number;
  /** `ws://hostname:port/path` (`wss://` with `tls`): what clients connect to. */
  readonly url: string;
  /** The same as `url`: what a Server's registration advertises. */
  readonly endpoint: string;
  /** Stops accepting. Live connections stay: close them with `server.close()`. */
  close(): Promise<void>;
}

export function listenerUrl(hostname: string, port: number, path: string, secure = false): string {
  return `${secure ? "wss" : "ws"}://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}${path}`;
}
