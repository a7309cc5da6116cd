/**
 * weft on a Hono route: WebSocket upgrades through the runtime's own `upgradeWebSocket`
 * (from `hono/bun`, `hono/deno`, `@hono/node-server` or `hono/cloudflare-workers`), so
 * one app serves RPC beside ordinary HTTP routes, and one Server serves TCP and
 * WebSocket connections at once.
 *
 *   app.get("/qrpc", upgradeWeft(server, upgradeWebSocket));
 *   // or
 *   mountWeft(app, server, { upgradeWebSocket });
 *
 * Hono's `WSContext.send` says nothing about backpressure, so the runtime's socket
 * (`ws.raw`) is used directly: its buffered amount (Bun's `getBufferedAmount()`,
 * `bufferedAmount` on Deno, `ws` and Workers) decides when the engine must wait.
 * Nothing here imports a runtime: each socket is recognised by its shape.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { GetConnInfo } from "hono/conninfo";
import type { UpgradeWebSocket, WSContext, WSEvents } from "hono/ws";
import type { Connection, Server } from "../mod.ts";
import type { MessageSocket } from "../src/transports/websocket_transport.ts";
import { WebSocketTransport } from "../src/transports/websocket_transport.ts";
import { messageSocketOf } from "../src/transports/websocket_client.ts";

export interface WeftRouteOptions {
  /** Bytes a socket may hold unsent before weft stops writing to it (default 1 MiB). */
  highWaterMark?: number;
  /** The runtime's `getConnInfo` (from hono/bun, hono/deno, @hono/node-server/conninfo): gives `remoteAddress`. */
  getConnInfo?: GetConnInfo;
  /** Called with each connection this route accepts (the Server's own onConnection sees them too). */
  onConnection?: (connection: Connection) => void;
}

export interface MountOptions extends WeftRouteOptions {
  // deno-lint-ignore no-explicit-any
  upgradeWebSocket: UpgradeWebSocket<any>;
  /** Default "/qrpc", as qrpc's bridge. */
  path?: string;
}

/** The one subprotocol a qrpc server offers: what `new WebSocket(url, null)` sends. */
export const QRPC_SUBPROTOCOL = "null";

/** Sockets by their runtime object, so Bun's `drain` event can find its transport. */
const transports = new WeakMap<object, WebSocketTransport>();

/** A Hono handler that upgrades a request to a weft connection on `server`. */
// deno-lint-ignore no-explicit-any
export function upgradeWeft(server: Server, upgradeWebSocket: UpgradeWebSocket<any>, options: WeftRouteOptions = {}): MiddlewareHandler {
  const upgrade = upgradeWebSocket((c) => eventsFor(server, options, remoteAddressOf(c, options.getConnInfo)));
  return async (c, next) => {
    const offered = c.req.header("sec-websocket-protocol");
    const protocols = offered === undefined ? [] : offered.split(",").map((p) => p.trim()).filter((p) => p !== "");
    if (protocols.length > 0 && protocols[0] !== QRPC_SUBPROTOCOL) {
      const why = `weft: unsupported WebSocket subprotocol "${protocols[0]}"; offer none, or "${QRPC_SUBPROTOCOL}"`;
      // In a header too: @hono/node-server drops the body of a refused upgrade.
      return c.text(why, 400, { "x-weft-error": why });
    }
    const response = await upgrade(c, next);
    return protocols.length > 0 && response instanceof Response ? withSubprotocol(response) : response;
  };
}

/** Mounts weft on `app` at `options.path` (default /qrpc). */
export function mountWeft<App extends Hono<any, any, any>>(app: App, server: Server, options: MountOptions): App {
  const path = options.path ?? "/qrpc";
  app.get(path, upgradeWeft(server, options.upgradeWebSocket, options));
  return app;
}

/**
 * Bun: Hono's `websocket` handlers plus `drain`, so a backpressured socket resumes as soon
 * as Bun flushes it rather than at the next poll, and weft's messages skip Hono's wrapping. `Bun.serve({ websocket: withDrain(websocket) })`.
 */
export function withDrain<H extends object>(websocket: H): H & { drain(ws: object): void } {
  const hono = websocket as { message?: (ws: object, message: unknown) => void };
  return {
    ...websocket,
    drain: (ws: object) => transports.get(ws)?.drained(),
    // A weft socket's messages go straight to its transport: Hono's handler makes a WSContext
    // (which parses the URL), a MessageEvent and an ArrayBuffer for every message.
    message: (ws: object, message: unknown) => {
      const transport = transports.get(ws);
      if (transport !== undefined) transport.receive(message);
      else hono.message?.(ws, message);
    },
  };
}

/** One connection's handlers. Workers never calls onOpen, so any first event starts it. */
function eventsFor(server: Server, options: WeftRouteOptions, remoteAddress: string | undefined): WSEvents {
  let transport: WebSocketTransport | null = null;
  const start = (ws: WSContext) => {
    if (transport !== null) return transport;
    const raw = (ws.raw ?? ws) as { binaryType?: string };
    // Workers (compatibility date 2026-03-17 on) delivers Blobs, each a promise to read.
    if (raw.binaryType === "blob") raw.binaryType = "arraybuffer";
    transport = new WebSocketTransport(runtimeSocketOf(raw), { highWaterMark: options.highWaterMark, remoteAddress });
    transports.set(raw, transport);
    const connection = server.accept(transport);
    options.onConnection?.(connection);
    return transport;
  };
  return {
    onOpen: (_event, ws) => void start(ws),
    onMessage: (event, ws) => start(ws).receive(event.data),
    onClose: (event, ws) => {
      transport?.closed(event.code, event.reason);
      // Workers before compatibility date 2026-04-07 leaves answering a Close frame to the app.
      if (ws.readyState !== 3) {
        try {
          ws.close(sendableCode(event.code), event.reason);
        } catch {
          // Already closing.
        }
      }
    },
    onError: (event) => transport?.failed((event as ErrorEvent).error ?? new Error("websocket error")),
  };
}

/** A close code that may be sent back (1005, 1006 and 1015 only describe a close). */
function sendableCode(code: number): number {
  return code >= 1000 && code <= 4999 && code !== 1005 && code !== 1006 && code !== 1015 ? code : 1000;
}

function remoteAddressOf(c: Context, getConnInfo: GetConnInfo | undefined): string | undefined {
  if (getConnInfo === undefined) return undefined;
  try {
    const { address, port } = getConnInfo(c).remote;
    return address === undefined ? undefined : port === undefined ? address : `${address}:${port}`;
  } catch {
    return undefined; // not knowing the peer's address is no reason to refuse it
  }
}

/** The runtime's socket behind a WSContext: Bun's by its shape, else a standard WebSocket (or `ws`'s). */
// deno-lint-ignore no-explicit-any
function runtimeSocketOf(raw: any): MessageSocket {
  if (typeof raw.getBufferedAmount !== "function") return messageSocketOf(raw);
  // Bun's ServerWebSocket: send returns -1 when it queued under backpressure, 0 when it dropped.
  return {
    send: (message) => raw.send(message) !== 0,
    bufferedAmount: () => raw.getBufferedAmount(),
    close: (code, reason) => raw.close(code, reason),
    cork: (sends) => raw.cork(sends),
  };
}

/** Workers' Hono helper does not echo the subprotocol; a browser that offered one needs it. */
function withSubprotocol(response: Response): Response {
  if (response.status !== 101 || response.headers.has("sec-websocket-protocol")) return response;
  const headers = new Headers(response.headers);
  headers.set("sec-websocket-protocol", QRPC_SUBPROTOCOL);
  // deno-lint-ignore no-explicit-any
  return new Response(null, { status: 101, headers, webSocket: (response as any).webSocket } as ResponseInit);
}
