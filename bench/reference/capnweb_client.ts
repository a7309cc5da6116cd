/**
 * The websocket bench's capnweb client: a capnweb WebSocket session (`newWebSocketRpcSession`
 * on an open socket of the WebSocket class the bench gives it: the one weft's client uses on
 * this runtime) whose main stub is servers/capnweb.ts's EchoApi.
 */
import * as capnweb from "capnweb";
import { WebSocket as WsWebSocket } from "ws";
import type { WebSocketConstructor, WebSocketLike } from "../../src/transports/websocket_client.ts";
import { withTimeout } from "../harness/watchdog.ts";

/**
 * Runs `fn` with a global WebSocket: capnweb reads `WebSocket.CONNECTING` when it wraps a
 * socket, and Node 20 has none. Where there is one, it stays as it is; the shim is removed
 * right after, so weft's client sees the same globals as in every other bench.
 */
export function withGlobalWebSocket<T>(fn: () => T): T {
  const g = globalThis as { WebSocket?: unknown };
  if (g.WebSocket !== undefined) return fn();
  g.WebSocket = WsWebSocket;
  try {
    return fn();
  } finally {
    delete g.WebSocket;
  }
}

export interface CapnwebEcho {
  /** One call: `await stub.echo(bytes)`. */
  echo(bytes: Uint8Array): Promise<Uint8Array>;
  close(): void;
}

/** Opens `url` with `WebSocketClass`, waits for it to be open, and starts a session on it. */
export async function openCapnweb(url: string, WebSocketClass: WebSocketConstructor): Promise<CapnwebEcho> {
  const socket: WebSocketLike = new WebSocketClass(url);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", (event) => reject(new Error(`capnweb: cannot connect to ${url}: ${event?.message ?? "error"}`)));
    }),
    10_000,
    `capnweb: no connection to ${url} within 10 s`,
    () => socket.close(),
  );
  // deno-lint-ignore no-explicit-any
  const stub = withGlobalWebSocket(() => capnweb.newWebSocketRpcSession(socket as any)) as any;
  return {
    echo: (bytes) => stub.echo(bytes),
    close() {
      try {
        stub[Symbol.dispose]();
      } catch {
        // already gone
      }
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}
