/**
 * Deno adapter: weft over `Deno.listen` / `Deno.connect` TCP connections.
 *
 * Each connection goes to the engine as a `ConnTransport` (deno_conn_transport.ts): reads
 * into slabs sized to the traffic, writes one after another, no Web Streams. Nagle is
 * turned off (Deno leaves it on).
 */
import { Connection, type Server, type Transport } from "../mod.ts";
import { ConnTransport } from "./deno_conn_transport.ts";
import { denoApi, type DenoTcpConn, type DenoTcpListener } from "./deno_api.ts";
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
import { connectWebSocket } from "./deno_websocket_client.ts";
export type { CreateChannelOptions } from "./channel.ts";
export type { ConnectOptions, ListenOptions, TcpListener, TlsClientOptions, TlsServerOptions } from "./options.ts";

/** Wraps a Deno TCP connection as the core's transport (Nagle off, keepalive on). */
export function denoConnTransport(conn: DenoTcpConn): Transport {
  conn.setNoDelay?.(true);
  conn.setKeepAlive?.(true); // Deno takes no delay: the OS's default idle time applies
  return new ConnTransport(conn);
}

/** Accepts TCP connections for `server`. */
export function listen(server: Server, options: ListenOptions = {}): Promise<TcpListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  let tcp: DenoTcpListener;
  try {
    const port = options.port ?? 0;
    tcp = options.tls
      ? denoApi().listenTls({ hostname, port, cert: options.tls.cert, key: options.tls.key, transport: "tcp" })
      : denoApi().listen({ hostname, port, transport: "tcp" });
  } catch (error) {
    return Promise.reject(error);
  }
  let closed = false;
  const accepting = (async () => {
    try {
      for await (const conn of tcp) server.accept(denoConnTransport(conn));
    } catch (error) {
      if (!closed) throw error;
    }
  })();
  const listener: TcpListener = {
    hostname,
    port: tcp.addr.port,
    endpoint: tcpEndpoint(hostname, tcp.addr.port, options.tls !== undefined),
    async close() {
      if (closed) return;
      closed = true;
      server.removeListener(listener);
      tcp.close();
      await accepting.catch(() => {});
    },
  };
  server.addListener(listener);
  return Promise.resolve(listener);
}

/** Opens a client connection. */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const secure = options.tls;
  // Deno checks the server's certificate against `hostname` (it has no separate server name).
  const attempt = secure
    ? denoApi().connectTls({ hostname, port: options.port, caCerts: caList(secure) }).then(async (conn) => {
      try {
        await conn.handshake?.(); // a certificate that does not verify fails the connect
        return conn;
      } catch (error) {
        conn.close();
        throw error;
      }
    })
    : denoApi().connect({ hostname, port: options.port, transport: "tcp" });
  const conn = await withConnectTimeout(attempt, options, () => {
    attempt.then((late) => late.close(), () => {});
  });
  return new Connection(denoConnTransport(conn), "client", options);
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
