/** A server and a client on real TCP over 127.0.0.1, through the adapter under test. */
import type { TcpListener } from "../../adapters/options.ts";
import { type Connection, type ConnectionOptions, Server, type ServerOptions } from "../../mod.ts";
import { until } from "./bytes.ts";
import { adapter } from "./runtime.ts";

export interface Pair {
  server: Server;
  listener: TcpListener;
  client: Connection;
  /** The server's side of `client`'s connection. */
  serverSide: Connection;
  /** Another client on the same server. */
  connect(options?: ConnectionOptions): Promise<Connection>;
  close(): Promise<void>;
}

export async function startPair(
  setup: (server: Server) => void = () => {},
  options: { server?: ServerOptions; client?: ConnectionOptions } = {},
): Promise<Pair> {
  const accepted: Connection[] = [];
  const server = new Server({
    ...options.server,
    onConnection: (connection) => {
      accepted.push(connection);
      options.server?.onConnection?.(connection);
    },
  });
  setup(server);
  const listener = await adapter.listen(server, { port: 0 });
  const clients: Connection[] = [];
  const connect = async (clientOptions: ConnectionOptions = options.client ?? {}) => {
    const connection = await adapter.connect({ ...clientOptions, port: listener.port });
    clients.push(connection);
    return connection;
  };
  const client = await connect();
  await until(() => accepted.length === 1, 5000, "server to accept");
  return {
    server,
    listener,
    client,
    serverSide: accepted[0],
    connect,
    async close() {
      for (const connection of clients) connection.destroy();
      await server.close({ timeout: 100 });
    },
  };
}
