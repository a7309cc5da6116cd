/**
 * Deno adapter: weft over `Deno.listen` / `Deno.connect` TCP connections.
 *
 * Reads go through `conn.read` into the free tail of a shared 64 KiB slab rather than
 * `conn.readable`, which allocates (and zero-fills) a fresh 64 KiB buffer for every read,
 * however few bytes arrived. Each chunk is a distinct region of a slab that is never
 * rewritten, so payload views into it stay valid; a new slab is allocated only when the
 * free tail gets small. Nagle is turned off (Deno leaves it on).
 */
import { Connection, type Server, type Transport } from "../mod.ts";
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

const SLAB_SIZE = 64 * 1024;
/** Below this much free tail, the next read gets a new slab. */
const MIN_READ = 8 * 1024;

/** Wraps a Deno TCP connection as the core's transport. */
export function denoConnTransport(conn: DenoTcpConn): Transport {
  conn.setNoDelay?.(true);
  conn.setKeepAlive?.(true); // Deno takes no delay: the OS's default idle time applies
  let slab = new Uint8Array(SLAB_SIZE);
  let used = 0;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Already closed by the other half.
    }
  };

  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (slab.length - used < MIN_READ) {
        slab = new Uint8Array(SLAB_SIZE);
        used = 0;
      }
      let n: number | null;
      try {
        n = await conn.read(slab.subarray(used));
      } catch (error) {
        if (closed) return controller.close();
        throw error;
      }
      if (n === null) return controller.close();
      controller.enqueue(slab.subarray(used, used + n));
      used += n;
    },
    cancel: close,
  }, { highWaterMark: 0 });

  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let at = 0; at < chunk.length;) at += await conn.write(chunk.subarray(at));
    },
    // A graceful end: FIN after everything written (conn.writable.close() would close both halves).
    async close() {
      try {
        await conn.closeWrite();
      } catch {
        // Already closed.
      }
    },
    abort: close,
  });

  const remote = conn.remoteAddr;
  return { readable, writable, remoteAddress: `${remote.hostname}:${remote.port}` };
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
