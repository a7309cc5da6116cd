/**
 * A TCP proxy on 127.0.0.1 that can go silent without closing anything: after
 * `freeze()` bytes in both directions are swallowed, and one end closing is not passed on to
 * the other: what a half-open connection (a peer whose machine vanished) looks like to both.
 */
import { type Proxy, startProxy } from "./proxy.ts";

export interface FreezableProxy extends Proxy {
  freeze(): void;
}

export async function startFreezableProxy(targetPort: number): Promise<FreezableProxy> {
  let frozen = false;
  const proxy = await startProxy(targetPort, (client, server) => {
    client.on("data", (chunk) => frozen || server.write(chunk));
    server.on("data", (chunk) => frozen || client.write(chunk));
  }, () => !frozen);
  return { ...proxy, freeze: () => (frozen = true) };
}
