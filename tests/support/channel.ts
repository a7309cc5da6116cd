/** The channel of the runtime under test, and endpoint URLs for the transport under test. */
import type { CreateChannelOptions } from "../../adapters/channel.ts";
import type { Channel, EndpointSource } from "../../mod.ts";
import { runtime, transport, webSocketUrl } from "./runtime.ts";

const tcpAdapter = await import(`../../adapters/${runtime}.ts`);

export const createChannel: (endpoints: EndpointSource, options?: CreateChannelOptions) => Channel = tcpAdapter.createChannel;

/** The endpoint URL of a listener on `port` for the transport under test. */
export function endpointFor(port: number): string {
  return transport === "tcp" ? `tcp://127.0.0.1:${port}` : webSocketUrl(port);
}

/** Fast reconnects for tests: 20 ms, x2, at most 200 ms. */
export const FAST_RECONNECT = { initialDelay: 20, multiplier: 2, maxDelay: 200, jitter: 0.2 } as const;
