/**
 * Deno adapter: weft over `Deno.listen` / `Deno.connect` TCP connections.
 *
 * A Deno connection already is a pair of Web Streams, so the transport is the
 * connection itself, with Nagle turned off (Deno leaves it on).
 */
import { Connection, type Server, type Transport } from "../mod.ts";
import {
  type ConnectOptions,
  DEFAULT_HOSTNAME,
  type ListenOptions,
  type TcpListener,
  withConnectTimeout,
} from "./options.ts";

export type { ConnectOptions, ListenOptions, TcpListener } from "./options.ts";

/** Wraps a Deno TCP connection as the core's transport. */
export function denoConnTransport(conn: Deno.TcpConn): Transport {
  conn.setNoDelay(true);
  const remote = conn.remoteAddr;
  return { readable: conn.readable, writable: conn.writable, remoteAddress: `${remote.hostname}:${remote.port}` };
}

/** Accepts TCP connections for `server`. */
export function listen(server: Server, options: ListenOptions = {}): Promise<TcpListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  let tcp: Deno.TcpListener;
  try {
    tcp = Deno.listen({ hostname, port: options.port ?? 0, transport: "tcp" });
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
  const attempt = Deno.connect({ hostname, port: options.port, transport: "tcp" });
  const conn = await withConnectTimeout(attempt, options, () => {
    attempt.then((late) => late.close(), () => {});
  });
  return new Connection(denoConnTransport(conn), "client", options);
}
