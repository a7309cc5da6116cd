/**
 * Bun adapter: weft over `Bun.listen` / `Bun.connect` sockets.
 *
 * Bun hands socket events to shared handlers, so each socket carries its own state (in
 * `socket.data`): a `BunSocketTransport` (bun_socket_transport.ts), which the engine also
 * takes as its reader and writer, with no Web Streams in between.
 */
import { Connection, type Server, type Transport } from "../mod.ts";
import { BunSocketTransport } from "./bun_socket_transport.ts";
import { bunApi, type BunSocket, type BunSocketHandler, type BunTlsOptions } from "./bun_api.ts";
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
import { connectWebSocket } from "./bun_websocket_client.ts";
export type { CreateChannelOptions } from "./channel.ts";
export type { ConnectOptions, ListenOptions, TcpListener, TlsClientOptions, TlsServerOptions } from "./options.ts";

/** The handlers every weft socket on Bun shares. */
/** What a TLS client's connect waits on: the handshake, which Bun reports after `open`. */
interface Handshake {
  resolve(): void;
  reject(error: Error): void;
}

function socketHandlers(onOpen: (state: BunSocketTransport) => void, handshake?: Handshake): BunSocketHandler<BunSocketTransport> {
  return {
    handshake(socket, success, error) {
      if (success) return handshake?.resolve();
      const failure = new Error(`TLS handshake failed: ${error?.code ?? error?.message ?? "unknown reason"}`);
      handshake?.reject(failure);
      socket.data?.onClose(failure);
    },
    binaryType: "uint8array",
    open(socket) {
      socket.data = new BunSocketTransport(socket);
      onOpen(socket.data);
    },
    data(socket, data) {
      socket.data.onData(data);
    },
    drain(socket) {
      socket.data.onDrain();
    },
    end(socket) {
      socket.data?.onClose();
    },
    close(socket, error) {
      socket.data?.onClose(error);
    },
    error(socket, error) {
      socket.data?.onClose(error);
    },
  };
}

/** Accepts TCP connections for `server`. */
export function listen(server: Server, options: ListenOptions = {}): Promise<TcpListener> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  let bunListener;
  try {
    bunListener = bunApi().listen<BunSocketTransport>({
      hostname,
      port: options.port ?? 0,
      tls: options.tls ? { cert: options.tls.cert, key: options.tls.key } : undefined,
      socket: socketHandlers((state) => server.accept(state.transport)),
    });
  } catch (error) {
    return Promise.reject(error);
  }
  const listener: TcpListener = {
    hostname,
    port: bunListener.port!,
    endpoint: tcpEndpoint(hostname, bunListener.port!, options.tls !== undefined),
    close() {
      server.removeListener(listener);
      bunListener.stop(false); // stop accepting; live connections are server.close()'s
      return Promise.resolve();
    },
  };
  server.addListener(listener);
  return Promise.resolve(listener);
}

/** Opens a client connection. */
export async function connect(options: ConnectOptions): Promise<Connection> {
  let transport: Transport | undefined;
  const secure = options.tls;
  let handshake: Handshake | undefined;
  const handshook = secure ? new Promise<void>((resolve, reject) => (handshake = { resolve, reject })) : null;
  const attempt = bunApi().connect<BunSocketTransport>({
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port,
    tls: secure ? bunTls(secure) : undefined,
    socket: socketHandlers((state) => (transport = state.transport), handshake),
  });
  // Over TLS, Bun opens the socket before the handshake: a certificate that does not verify
  // fails the connect, not the first call.
  const connected = handshook === null ? attempt : attempt.then((socket) => handshook.then(() => socket));
  const socket = await withConnectTimeout(connected, options, () => {
    attempt.then((late) => late.terminate(), () => {});
  });
  return new Connection(transport ?? socket.data.transport, "client", options);
}

function bunTls(tls: NonNullable<ConnectOptions["tls"]>): true | BunTlsOptions {
  if (tls === true) return true;
  return { ca: caList(tls), serverName: tls.serverName };
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
