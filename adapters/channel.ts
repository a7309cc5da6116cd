/**
 * A channel's dialer from a runtime's two ways to connect (TCP, and WebSocket), shared by the
 * three adapters so `tcp://`, `tls://`, `ws://` and `wss://` mean the same on each.
 */
import { Channel, type ChannelOptions, type Connection, type Dial } from "../mod.ts";
import type { WebSocketConnectOptions } from "../src/transports/websocket_client.ts";
import { caList, type ConnectOptions, type TlsClientOptions } from "./options.ts";

/** A channel's options, less `dial` (the adapter's) and `endpoints` (the first argument). */
export interface CreateChannelOptions extends Omit<ChannelOptions, "dial" | "endpoints"> {
  /** For `tls://` and `wss://`: the CAs to trust and the name to check (default: the runtime's CAs). */
  tls?: TlsClientOptions;
}

/** Dials an endpoint with the runtime's `connect` (tcp, tls) or `connectWebSocket` (ws, wss). */
export function dialWith(
  connect: (options: ConnectOptions) => Promise<Connection>,
  connectWebSocket: (options: WebSocketConnectOptions) => Promise<Connection>,
  tls: TlsClientOptions | undefined,
): Dial {
  return (endpoint, options) => {
    switch (endpoint.scheme) {
      case "tcp":
        return connect({ ...options, hostname: endpoint.hostname, port: endpoint.port, tls: undefined });
      case "tls":
        return connect({ ...options, hostname: endpoint.hostname, port: endpoint.port, tls: tls ?? true });
      default:
        return connectWebSocket({
          ...options,
          url: endpoint.url,
          ca: endpoint.scheme === "wss" && tls !== undefined ? caList(tls) : undefined,
        });
    }
  };
}

/** `createChannel` for a runtime. */
export function channelFactory(
  connect: (options: ConnectOptions) => Promise<Connection>,
  connectWebSocket: (options: WebSocketConnectOptions) => Promise<Connection>,
): (endpoints: ChannelOptions["endpoints"], options?: CreateChannelOptions) => Channel {
  return (endpoints, options = {}) => {
    const { tls, ...rest } = options;
    return new Channel({ ...rest, endpoints, dial: dialWith(connect, connectWebSocket, tls) });
  };
}
