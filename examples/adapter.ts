/**
 * The examples run unchanged on Deno, Bun and Node, so they pick the TCP adapter of the
 * runtime they find themselves on. In an application, import the one you use directly:
 *   import { listen, connect } from "@weft/rpc/node"; // or "@weft/rpc/bun", "@weft/rpc/deno"
 */
import type { ConnectOptions, ListenOptions, TcpListener } from "../adapters/options.ts";
import type { CreateChannelOptions } from "../adapters/channel.ts";
import type { Channel, Connection, EndpointSource, Server } from "../mod.ts";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
export const runtime = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

const adapter: {
  listen(server: Server, options?: ListenOptions): Promise<TcpListener>;
  connect(options: ConnectOptions): Promise<Connection>;
  createChannel(endpoints: EndpointSource, options?: CreateChannelOptions): Channel;
} = await import(`../adapters/${runtime}.ts`);

export const { listen, connect, createChannel } = adapter;
