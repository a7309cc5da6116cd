import { Advertisement, type ServerRegistration } from "./advertisement.ts";
import { type CloseOptions, Connection, type ConnectionOptions } from "./connection.ts";
import { type CapOptions, ConnectionCaps, hostOf, REFUSAL_WINDOW_MS } from "./connection_caps.ts";
import type { Handler, PushHandler } from "./mux.ts";
import { type BroadcastStats, type SlowConsumerOptions, SlowConsumers } from "./slow_consumers.ts";
import { Mux } from "./mux.ts";
import type { Transport } from "./transport.ts";

export interface ServerOptions extends Omit<ConnectionOptions, "mux" | "nextPushId">, CapOptions {
  /** Called with each new connection, before its first frame is read. */
  onConnection?: (connection: Connection) => void;
  /** What `pushAll`, `pushTo` and typed `emit` do with a connection that falls behind (slow_consumers.ts). */
  slowConsumers?: SlowConsumerOptions;
  /** Registers the server in a registry while it listens, and deregisters it on close (advertisement.ts). */
  registration?: ServerRegistration;
}

const EMPTY = new Uint8Array(0);

/** Something that feeds a server connections (an adapter's listening socket). */
export interface Listener {
  /** What a client dials to reach it (`tcp://host:port`, `ws://host:port/qrpc`), for the server's registration. */
  readonly endpoint?: string;
  /** Stops accepting connections. Live connections are the server's to close. */
  close(): void | Promise<void>;
}

/**
 * Serves handlers to every connection it accepts, tracks the live ones, pushes to one
 * or all, and shuts down gracefully. Transport-agnostic: adapters call `accept`.
 */
export class Server {
  readonly mux: Mux = new Mux();
  #connections = new Set<Connection>();
  #listeners = new Set<Listener>();
  #options: ServerOptions;
  #pushId = 0;
  #closing: Promise<void> | null = null;
  readonly #nextPushId = () => (this.#pushId += 2);
  readonly #caps: ConnectionCaps;
  readonly #slow: SlowConsumers;
  readonly #advertisement: Advertisement | undefined;

  constructor(options: ServerOptions = {}) {
    this.#options = options;
    this.#caps = new ConnectionCaps(options);
    this.#slow = new SlowConsumers(options.slowConsumers);
    this.#advertisement = options.registration === undefined ? undefined : new Advertisement(options.registration);
  }

  /** Serves `cmd` (0..65535) on every connection. */
  handle(cmd: number, handler: Handler): this {
    this.mux.handle(cmd, handler);
    return this;
  }

  /** Receives frames that clients push. */
  onPush(handler: PushHandler | null): this {
    this.mux.onPush(handler);
    return this;
  }

  /** The live connections. */
  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  /** True once close() has started. */
  get isClosing(): boolean {
    return this.#closing !== null;
  }

  /** Runs the server's side of a new connection over `transport`. */
  accept(transport: Transport): Connection {
    const caps = this.#caps;
    if (caps.unlimited || this.#closing !== null) return this.#open(transport, null);
    const host = hostOf(transport.remoteAddress);
    const refusal = caps.admit(host);
    if (refusal === null) {
      const connection = this.#open(transport, null);
      connection.closed.then(() => caps.release(host));
      return connection;
    }
    const connection = this.#open(transport, refusal === "drop" ? null : refusal);
    if (refusal === "drop") connection.destroy(new Error("too many connections being refused"));
    else connection.closed.then(() => caps.refused());
    return connection;
  }

  /**
   * The server's side of a connection. A refused one runs only to tell a weft client why:
   * its admission check always throws `refusal`, and it has a short time to show weft.
   */
  #open(transport: Transport, refusal: Error | null): Connection {
    const options: ConnectionOptions = { ...this.#options, mux: this.mux, nextPushId: this.#nextPushId };
    if (refusal !== null) {
      options.authenticate = () => {
        throw refusal;
      };
      options.handshakeTimeout = REFUSAL_WINDOW_MS;
    }
    const connection = new Connection(transport, "server", options);
    if (this.#closing !== null) {
      connection.destroy(new Error("server is shutting down"));
      return connection;
    }
    this.#connections.add(connection);
    connection.closed.then(() => this.#connections.delete(connection));
    if (refusal === null) this.#options.onConnection?.(connection);
    else connection.reportError(refusal);
    return connection;
  }

  /**
   * Pushes a frame to every live connection; returns how many it went to. A connection too
   * far behind is handled by the `slowConsumers` policy, so the others never wait for it.
   */
  pushAll(cmd: number, payload: Uint8Array = EMPTY): number {
    let sent = 0;
    for (const connection of this.#connections) {
      if (connection.isOpen && this.#slow.offer(connection, cmd, payload)) sent++;
    }
    return sent;
  }

  /** Pushes to one connection as a broadcast does (under the `slowConsumers` policy); false if not sent. */
  pushTo(connection: Connection, cmd: number, payload: Uint8Array = EMPTY): boolean {
    return connection.isOpen && this.#slow.offer(connection, cmd, payload);
  }

  /** Pushes dropped and connections closed for falling behind, and pushes queued now. */
  get broadcastStats(): Readonly<BroadcastStats> {
    return this.#slow.stats;
  }

  /** Adapters register their listening sockets so close() stops them first. */
  addListener(listener: Listener): void {
    this.#listeners.add(listener);
    this.#advertise();
  }

  removeListener(listener: Listener): void {
    if (this.#listeners.delete(listener)) this.#advertise();
  }

  #advertise(): void {
    if (this.#advertisement === undefined || this.#closing !== null) return;
    this.#advertisement.listening([...this.#listeners].flatMap((listener) => listener.endpoint ?? []));
  }

  /**
   * Graceful shutdown: leave the registry (with `registration`), stop accepting, refuse new
   * calls, give in-flight calls `timeout` ms to finish, then close every connection.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      await this.#advertisement?.close();
      await Promise.all([...this.#listeners].map((listener) => listener.close()));
      this.#listeners.clear();
      await Promise.all([...this.#connections].map((connection) => connection.close(options)));
    })();
    return this.#closing;
  }
}
