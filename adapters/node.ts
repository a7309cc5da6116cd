/**
 * Node adapter: weft over `node:net` sockets (also runs on Bun and Deno's Node layer).
 *
 * The socket goes to the engine as a `SocketTransport` (node_socket_transport.ts): a light
 * reader and writer in one object, not Web Streams (`Duplex.toWeb` copies every chunk, and
 * a Web Stream pair costs Node about 8 KiB per connection). Reads pause the socket when the
 * engine falls behind; writes report backpressure while Node's buffer is over its mark.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { Connection, type Server } from "../mod.ts";
import { nodeSocketTransport } from "./node_socket_transport.ts";
import {
  caList,
  type ConnectOptions,
  DEFAULT_HOSTNAME,
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
export { nodeSocketTransport, type NodeSocketLike, SocketTransport } from "./node_socket_transport.ts";

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
