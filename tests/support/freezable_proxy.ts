/**
 * A TCP proxy on 127.0.0.1 that can go silent without closing anything: after
 * `freeze()` bytes in both directions are swallowed, which is what a half-open connection
 * (a peer whose machine vanished) looks like to the two ends.
 */
import * as net from "node:net";

export interface FreezableProxy {
  port: number;
  freeze(): void;
  close(): void;
}

export async function startFreezableProxy(targetPort: number): Promise<FreezableProxy> {
  let frozen = false;
  const sockets: net.Socket[] = [];
  const server = net.createServer((downstream) => {
    const upstream = net.connect({ port: targetPort, host: "127.0.0.1" });
    sockets.push(downstream, upstream);
    for (const socket of [downstream, upstream]) socket.on("error", () => {});
    downstream.on("data", (chunk) => frozen || upstream.write(chunk));
    upstream.on("data", (chunk) => frozen || downstream.write(chunk));
    downstream.on("close", () => upstream.destroy());
    upstream.on("close", () => downstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => (frozen = true),
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
