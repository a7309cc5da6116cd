/**
 * Node adapter: weft over `node:net` sockets (also runs on Bun and Deno's Node layer).
 *
 * Hand-written Web Streams around the socket instead of `Duplex.toWeb`, which copies
 * every chunk. Reads pause the socket when the engine falls behind; writes wait for
 * `drain` when the kernel buffer is full.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { Connection, type Server, type Transport } from "../mod.ts";
import {
  caList,
  type ConnectOptions,
  DEFAULT_HOSTNAME,
  KEEPALIVE_IDLE_MS,
  type ListenOptions,
  type TcpListener,
  tcpEndpoint,
  withConnectTimeout,
} from "./options.ts";

import type { Channel, EndpointSource } from "../mod.ts";
import { channelFactory, type CreateChannelOptions } from "./channel.ts";
import { connectWebSocket } from "./node_websocket_client.ts";
export type { CreateChannelOptions } from "./channel.ts";
export type { ConnectOptions, ListenOptions, TcpListener, TlsClientOptions, TlsServerOptions } from "./options.ts";

/** Chunks the read side buffers before it pauses the socket. */
const READ_HIGH_WATER_MARK = 16;

/**
 * What `nodeSocketTransport` needs of a socket. A `net.Socket` (or a `tls.TLSSocket`) fits;
 * it is spelled out here so these declarations need no `@types/node`.
 */
export interface NodeSocketLike {
  readonly destroyed: boolean;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive?(enable?: boolean, initialDelay?: number): unknown;
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  write(chunk: Uint8Array): boolean;
  end(callback?: () => void): unknown;
  destroy(): unknown;
}

/** Wraps a connected socket as the core's pair of Web Streams. */
export function nodeSocketTransport(socket: NodeSocketLike): Transport {
  socket.setNoDelay(true);
  socket.setKeepAlive?.(true, KEEPALIVE_IDLE_MS);
  let closed = false;
  let drainWaiter: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  const failDrain = (error: unknown) => {
    drainWaiter?.reject(error);
    drainWaiter = null;
  };
  socket.on("drain", () => {
    drainWaiter?.resolve();
    drainWaiter = null;
  });

  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      socket.on("data", (chunk: Uint8Array) => {
        // A plain Uint8Array view over the Buffer's memory: same bytes, no copy.
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) socket.pause();
      });
      socket.on("end", () => {
        if (!closed) {
          closed = true;
          controller.close();
        }
      });
      socket.on("error", (error: Error) => {
        failDrain(error);
        if (!closed) {
          closed = true;
          controller.error(error);
        }
      });
      socket.on("close", () => {
        failDrain(new Error("socket closed"));
        if (!closed) {
          closed = true;
          controller.close();
        }
      });
    },
    pull() {
      socket.resume();
    },
    cancel() {
      closed = true;
      socket.destroy();
    },
  }, { highWaterMark: READ_HIGH_WATER_MARK });

  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.destroyed) throw new Error("socket closed");
      if (socket.write(chunk)) return;
      return new Promise<void>((resolve, reject) => (drainWaiter = { resolve, reject }));
    },
    close() {
      return new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.end(() => resolve());
      });
    },
    abort() {
      socket.destroy();
    },
  });

  const remoteAddress = socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}:${socket.remotePort}`;
  return { readable, writable, remoteAddress };
}

/** Accepts TCP connections for `server`. */
export function listen(server: Server, options: ListenOptions = {}): Promise<TcpListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const onSocket = (socket: net.Socket) => server.accept(nodeSocketTransport(socket));
  // A TLS server hands over each socket once its handshake is done ("secureConnection").
  const netServer = options.tls ? tls.createServer({ cert: options.tls.cert, key: options.tls.key }, onSocket) : net.createServer(onSocket);
  return new Promise((resolve, reject) => {
    netServer.once("error", reject);
    netServer.listen(options.port ?? 0, hostname, () => {
      netServer.off("error", reject);
      const address = netServer.address() as net.AddressInfo;
      const listener: TcpListener = {
        hostname,
        port: address.port,
        endpoint: tcpEndpoint(hostname, address.port, options.tls !== undefined),
        close() {
          server.removeListener(listener);
          // Stops accepting now; the callback would wait for live connections, which
          // are server.close()'s business.
          if (netServer.listening) netServer.close();
          return Promise.resolve();
        },
      };
      server.addListener(listener);
      resolve(listener);
    });
  });
}

/** Opens a client connection. */
export function connect(options: ConnectOptions): Promise<Connection> {
  const host = options.hostname ?? DEFAULT_HOSTNAME;
  const secure = options.tls;
  const socket = secure
    ? tls.connect({
      host,
      port: options.port,
      ca: caList(secure),
      // SNI takes names only; an IP is still checked against the certificate's IP entries.
      servername: secure !== true && secure.serverName !== undefined ? secure.serverName : net.isIP(host) ? undefined : host,
    })
    : net.connect({ host, port: options.port });
  const attempt = new Promise<net.Socket>((resolve, reject) => {
    socket.once(secure ? "secureConnect" : "connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
  return withConnectTimeout(attempt, options, () => socket.destroy())
    .then((socket) => new Connection(nodeSocketTransport(socket), "client", options));
}

/**
 * A client that owns its connections (see Channel): `createChannel("tcp://127.0.0.1:4000")`,
 * or many endpoints (`tcp://`, `tls://`, `ws://`, `wss://`) with a balancing policy. It
 * reconnects, fails over on goaway and retries what is safe; `createClient(channel)` works on it.
 */
export const createChannel: (endpoints: EndpointSource, options?: CreateChannelOptions) => Channel = channelFactory(
  connect,
  connectWebSocket,
);
