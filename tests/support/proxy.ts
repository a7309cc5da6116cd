/**
 * A TCP proxy on 127.0.0.1 for tests that need to get between a client and a server.
 * `pipe` wires each accepted connection's two sockets (forward, drop or alter bytes);
 * closing either side closes the other, while `linkCloses()` says so (a frozen link does not).
 */
import * as net from "node:net";

export interface Proxy {
  port: number;
  /** Drops every connection through it (both sides see a reset), and keeps listening. */
  cut(): void;
  close(): void;
}

export async function startProxy(
  targetPort: number,
  pipe: (client: net.Socket, server: net.Socket) => void,
  linkCloses: () => boolean = () => true,
): Promise<Proxy> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: targetPort, host: "127.0.0.1" });
    sockets.push(client, upstream);
    for (const socket of [client, upstream]) socket.on("error", () => {});
    pipe(client, upstream);
    client.on("close", () => linkCloses() && upstream.destroy());
    upstream.on("close", () => linkCloses() && client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      for (const socket of sockets.splice(0)) socket.resetAndDestroy?.() ?? socket.destroy();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
