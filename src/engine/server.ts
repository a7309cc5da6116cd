import { type CloseOptions, Connection, type ConnectionOptions } from "./connection.ts";
import type { Handler, PushHandler } from "./mux.ts";
import { Mux } from "./mux.ts";
import type { Transport } from "./transport.ts";

export interface ServerOptions extends Omit<ConnectionOptions, "mux" | "nextPushId"> {
  /** Called with each new connection, before its first frame is read. */
  onConnection?: (connection: Connection) => void;
}

/** Something that feeds a server connections (an adapter's listening socket). */
export interface Listener {
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

  constructor(options: ServerOptions = {}) {
    this.#options = options;
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
    const connection = new Connection(transport, "server", {
      ...this.#options,
      mux: this.mux,
      nextPushId: this.#nextPushId,
    });
    if (this.#closing !== null) {
      connection.destroy(new Error("server is shutting down"));
      return connection;
    }
    this.#connections.add(connection);
    connection.closed.then(() => this.#connections.delete(connection));
    this.#options.onConnection?.(connection);
    return connection;
  }

  /** Pushes a frame to every live connection; returns how many it went to. */
  pushAll(cmd: number, payload?: Uint8Array): number {
    let sent = 0;
    for (const connection of this.#connections) {
      if (!connection.isOpen) continue;
      connection.push(cmd, payload);
      sent++;
    }
    return sent;
  }

  /** Adapters register their listening sockets so close() stops them first. */
  addListener(listener: Listener): void {
    this.#listeners.add(listener);
  }

  removeListener(listener: Listener): void {
    this.#listeners.delete(listener);
  }

  /**
   * Graceful shutdown: stop accepting, refuse new calls, give in-flight calls `timeout`
   * ms to finish, then close every connection.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#listeners].map((listener) => listener.close()));
      this.#listeners.clear();
      await Promise.all([...this.#connections].map((connection) => connection.close(options)));
    })();
    return this.#closing;
  }
}
