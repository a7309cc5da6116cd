/**
 * A weft client over a Web-standard WebSocket: browsers, Deno, Bun, Node 22+, Workers,
 * or any constructor with the same shape (Node 20 passes the `ws` package's).
 * The Connection it returns is the same as over TCP, so `createClient` works unchanged.
 */
import { Connection, type ConnectionOptions } from "../engine/connection.ts";
import { RpcError } from "../common/errors.ts";
import { startTimer, stopTimer } from "../common/timers.ts";
import { type MessageSocket, WebSocketTransport } from "./websocket_transport.ts";

/** The part of the WebSocket interface weft uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketConnectOptions extends ConnectionOptions {
  /** `ws://host:port/qrpc` or `wss://…`; a relative URL resolves against the page's. */
  url: string | URL;
  /** Subprotocols to offer. Default none, as qrpc's Go client; a qrpc server accepts "null". */
  protocols?: string | string[];
  /** Default `globalThis.WebSocket`. On Node 20, pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Milliseconds to wait for the handshake before failing with `unavailable`. Default 10000. */
  connectTimeout?: number;
  /** Bytes the socket may hold unsent before calls wait (default 1 MiB). */
  highWaterMark?: number;
  /**
   * `wss://` to a server whose certificate a private CA signed: trust these CAs (PEM). The
   * Node, Deno and Bun clients (`@weft/rpc/{node,deno,bun}/websocket`) honour it; a browser
   * or a Worker trusts its own store and ignores it.
   */
  ca?: string | string[];
}

const OPEN = 1;

/** Opens a WebSocket to a weft (or qrpc) server and returns the client connection. */
export function connectWebSocket(options: WebSocketConnectOptions): Promise<Connection> {
  const url = resolveUrl(options.url);
  const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (WebSocketClass === undefined) {
    return Promise.reject(new TypeError("no global WebSocket here: pass one (Node 20: the ws package's)"));
  }
  const fail = (why: string, cause?: unknown) => new RpcError("unavailable", `cannot connect to ${url}: ${why}`, { cause });
  let socket: WebSocketLike;
  try {
    socket = new WebSocketClass(url, options.protocols);
  } catch (error) {
    return Promise.reject(fail((error as Error)?.message ?? String(error), error));
  }
  // The `ws` package (Node 20) hands over its Buffer as is with "nodebuffer": no ArrayBuffer copy.
  socket.binaryType = isWsPackage(socket) ? "nodebuffer" : "arraybuffer";
  const transport = new WebSocketTransport(messageSocketOf(socket), {
    highWaterMark: options.highWaterMark,
    remoteAddress: new URL(url).host,
  });
  let settle: ((error?: RpcError) => void) | null = null;
  socket.addEventListener("message", (event) => transport.receive(event.data));
  socket.addEventListener("close", (event) => {
    settle?.(fail(`closed with code ${event.code}${event.reason ? `: ${event.reason}` : ""}`));
    transport.closed(event.code, event.reason);
  });
  socket.addEventListener("error", (event) => {
    const error = event?.error ?? event?.message ?? "websocket error";
    settle?.(fail(String(error instanceof Error ? error.message : error), error));
    transport.failed(error instanceof Error ? error : new RpcError("unavailable", String(error)));
  });
  return new Promise<Connection>((resolve, reject) => {
    const ms = options.connectTimeout ?? 10_000;
    const timer = startTimer(() => {
      settle?.(fail(`timed out after ${ms} ms`));
      socket.close();
    }, ms);
    settle = (error) => {
      settle = null;
      stopTimer(timer);
      if (error) return reject(error);
      // An empty message, which qrpc ignores, tells a server that learns of a socket only
      // from its first message (Hono on Workers) that this one is open.
      socket.send(new Uint8Array(0));
      resolve(new Connection(transport, "client", options));
    };
    socket.addEventListener("open", () => settle?.());
  });
}

/** A Web-standard WebSocket as a MessageSocket. */
export function messageSocketOf(socket: WebSocketLike): MessageSocket {
  return {
    send(message) {
      if (socket.readyState !== OPEN) return false;
      socket.send(message);
      return true;
    },
    bufferedAmount: () => socket.bufferedAmount ?? 0,
    close: (code, reason) => socket.close(code, reason),
    // The `ws` package's client: cork its net.Socket, so a batch of messages is one write.
    cork: isWsPackage(socket)
      ? (sends) => {
        const net = (socket as { _socket?: { cork(): void; uncork(): void } | null })._socket;
        if (net == null) return sends();
        net.cork();
        try {
          sends();
        } finally {
          net.uncork();
        }
      }
      : undefined,
  };
}

/** The `ws` package's WebSocket (it has a `_socket`, null until open); browsers' have none. */
function isWsPackage(socket: WebSocketLike): boolean {
  return "_socket" in socket;
}

function resolveUrl(url: string | URL): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const resolved = new URL(url, base);
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  if (resolved.protocol === "https:") resolved.protocol = "wss:";
  return resolved.href;
}
