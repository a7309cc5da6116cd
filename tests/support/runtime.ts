/**
 * The one place the suite learns which runtime it runs on. Every test is written once;
 * only the adapter it gets from here changes.
 */
import type { ConnectOptions, ListenOptions, TcpListener } from "../../adapters/options.ts";
import type { Connection, Server } from "../../mod.ts";

export type RuntimeName = "bun" | "deno" | "node";

interface Adapter {
  listen(server: Server, options?: ListenOptions): Promise<TcpListener>;
  connect(options: ConnectOptions): Promise<Connection>;
}

const g = globalThis as { Bun?: unknown; Deno?: unknown };
export const runtime: RuntimeName = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

/**
 * The transport under test: "tcp" (default) or "websocket" (WEFT_TRANSPORT=websocket, set by
 * tests/run.mjs for its second pass). Over WebSocket, `adapter` serves the same Server through
 * the runtime's Hono integration and connects with weft's WebSocket client, and RawSocket
 * speaks WebSocket too, so the same tests run over both.
 */
export const transport: "tcp" | "websocket" =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.WEFT_TRANSPORT === "websocket"
    ? "websocket"
    : "tcp";
/** For tests that need a TCP-only peer (a fake server, a proxy): skip them over WebSocket. */
export const overTcp: boolean = transport === "tcp";

/** The WebSocket URL weft's listener on `port` serves. */
export function webSocketUrl(port: number, hostname = "127.0.0.1"): string {
  return `ws://${hostname}:${port}/qrpc`;
}

/** The adapter native to the runtime under test, for the transport under test. */
export const adapter: Adapter = transport === "tcp"
  ? await import(`../../adapters/${runtime}.ts`)
  : await webSocketAdapter();

async function webSocketAdapter(): Promise<Adapter> {
  const ws = await import(`../../adapters/${runtime}_websocket.ts`);
  return {
    listen: (server, options) => ws.listenWebSocket(server, options),
    connect: (options) => ws.connectWebSocket({ ...options, url: webSocketUrl(options.port, options.hostname) }),
  };
}

/** Command lines that start a .ts file on each runtime, from the repo root. */
export function commandFor(name: RuntimeName, script: string): string[] {
  switch (name) {
    case "bun":
      return ["node_modules/.bin/bun", script];
    case "deno":
      return ["node_modules/.bin/deno", "run", "-A", script];
    case "node":
      return ["node", "--import", "tsx", script];
  }
}
