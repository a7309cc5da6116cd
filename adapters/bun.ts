/**
 * Bun adapter: weft over `Bun.listen` / `Bun.connect` sockets.
 *
 * Bun hands socket events to shared handlers, so each socket carries its own small
 * state (in `socket.data`) that feeds a ReadableStream and drains a WritableStream.
 * Bun's write() may take only part of a buffer and does not queue the rest: the tail is
 * re-sent on `drain`, and the writable's promise waits for it (that is the backpressure).
 */
import { Connection, RpcError, type Server, type Transport } from "../mod.ts";
import { bunApi, type BunSocket, type BunSocketHandler, type BunTlsOptions } from "./bun_api.ts";
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
import { connectWebSocket } from "./bun_websocket_client.ts";
export type { CreateChannelOptions } from "./channel.ts";
export type { ConnectOptions, ListenOptions, TcpListener, TlsClientOptions, TlsServerOptions } from "./options.ts";

/** Chunks the read side buffers before it pauses the socket. */
const READ_HIGH_WATER_MARK = 16;

/** Per-socket state behind the transport's two streams. */
class BunSocketState {
  readonly transport: Transport;
  #socket: BunSocket<BunSocketState>;
  #reads!: ReadableStreamDefaultController<Uint8Array>;
  #readsClosed = false;
  /** Bytes Bun did not take yet, and the write waiting on them. */
  #tail: Uint8Array | null = null;
  #tailDone: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  #ended = false;

  constructor(socket: BunSocket<BunSocketState>) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive?.(true, KEEPALIVE_IDLE_MS);
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#reads = controller;
      },
      pull: () => socket.resume(),
      cancel: () => this.#terminate(),
    }, { highWaterMark: READ_HIGH_WATER_MARK });
    const writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => {
        this.#ended = true;
        socket.end();
      },
      abort: () => this.#terminate(),
    });
    this.transport = { readable, writable, remoteAddress: `${socket.remoteAddress}:${socket.remotePort}` };
  }

  onData(data: Uint8Array): void {
    if (this.#readsClosed) return;
    this.#reads.enqueue(data);
    if ((this.#reads.desiredSize ?? 1) <= 0) this.#socket.pause();
  }

  onDrain(): void {
    const tail = this.#tail;
    if (tail === null) return;
    const written = this.#socket.write(tail, 0, tail.length);
    if (written < 0) return this.onClose(new Error("socket closed"));
    if (written < tail.length) {
      this.#tail = tail.subarray(written);
      return;
    }
    this.#tail = null;
    const done = this.#tailDone;
    this.#tailDone = null;
    done?.resolve();
  }

  onClose(error?: Error): void {
    const done = this.#tailDone;
    this.#tail = this.#tailDone = null;
    done?.reject(error ?? new Error("socket closed"));
    if (this.#readsClosed) return;
    this.#readsClosed = true;
    if (error) this.#reads.error(error);
    else this.#reads.close();
  }

  #write(chunk: Uint8Array): Promise<void> | void {
    if (this.#ended) throw new RpcError("unavailable", "socket closed");
    const written = this.#socket.write(chunk, 0, chunk.length);
    if (written < 0) throw new RpcError("unavailable", "socket closed");
    if (written === chunk.length) return;
    this.#tail = chunk.subarray(written);
    return new Promise((resolve, reject) => (this.#tailDone = { resolve, reject }));
  }

  #terminate(): void {
    this.#ended = true;
    this.#socket.terminate();
  }
}

/** The handlers every weft socket on Bun shares. */
/** What a TLS client's connect waits on: the handshake, which Bun reports after `open`. */
interface Handshake {
  resolve(): void;
  reject(error: Error): void;
}

function socketHandlers(onOpen: (state: BunSocketState) => void, handshake?: Handshake): BunSocketHandler<BunSocketState> {
  return {
    handshake(socket, success, error) {
      if (success) return handshake?.resolve();
      const failure = new Error(`TLS handshake failed: ${error?.code ?? error?.message ?? "unknown reason"}`);
      handshake?.reject(failure);
      socket.data?.onClose(failure);
    },
    binaryType: "uint8array",
    open(socket) {
      socket.data = new BunSocketState(socket);
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
    bunListener = bunApi().listen<BunSocketState>({
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
  const attempt = bunApi().connect<BunSocketState>({
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
