/**
 * A URL to a connection: `tcp://host:port`, `tls://host:port`, `ws://host:port/path` or
 * `wss://…`, dialled with the adapters of the runtime the command line runs on (picked at
 * run time, so the same file runs on Node, Bun and Deno, from source or from dist/).
 */
import { flag, numberFlag, type Parsed } from "./args.ts";
import { readFile } from "node:fs/promises";
import { type Connection, type ConnectionOptions, parseEndpoint } from "../mod.ts";
import { dialWith } from "../adapters/channel.ts";
import type { ConnectOptions, TlsClientOptions } from "../adapters/options.ts";
import type { WebSocketConnectOptions } from "../src/transports/websocket_client.ts";
import { CliError, ExitCode, usage } from "./errors.ts";

/** The runtime the command line runs on. */
export type RuntimeName = "bun" | "deno" | "node";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
export const runtime: RuntimeName = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

/** How to reach a server. */
export interface DialOptions {
  /** A PEM file of CAs to trust for tls:// and wss:// (default: the runtime's CAs). */
  readonly caFile?: string;
  /** The payload codec to agree on ("json" or "msgpack"; default the connection's, JSON for typed calls). */
  readonly codec?: string;
  /** Milliseconds to wait for the connection (default 10000). */
  readonly connectTimeout?: number;
}

interface TcpAdapter {
  connect(options: ConnectOptions): Promise<Connection>;
}
interface WebSocketClientAdapter {
  connectWebSocket(options: WebSocketConnectOptions): Promise<Connection>;
}

/**
 * The extension of this file's siblings: ".ts" run from source, ".js" from dist/. Built
 * specifiers keep TypeScript from type-checking the other runtimes' adapters here.
 */
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

async function adapters(): Promise<{ tcp: TcpAdapter; ws: WebSocketClientAdapter }> {
  const [tcp, ws] = await Promise.all([
    import(`../adapters/${runtime}${EXT}`) as Promise<TcpAdapter>,
    import(`../adapters/${runtime}_websocket_client${EXT}`) as Promise<WebSocketClientAdapter>,
  ]);
  return { tcp, ws };
}

/** The DialOptions a command's `--ca`, `--codec` and `--connect-timeout` flags give (command.ts's DIAL_FLAGS). */
export function dialOptionsOf(parsed: Parsed): DialOptions {
  return {
    caFile: flag(parsed, "ca"),
    codec: flag(parsed, "codec"),
    connectTimeout: numberFlag(parsed, "connect-timeout", { min: 1, integer: true }),
  };
}

/** Opens a connection to `url`; a bad URL is exit 2, a server that cannot be reached exit 3. */
export async function dial(url: string, options: DialOptions = {}): Promise<Connection> {
  let endpoint: ReturnType<typeof parseEndpoint>;
  try {
    endpoint = parseEndpoint(url);
  } catch (error) {
    throw usage(`bad URL: ${(error as Error).message}`);
  }
  if (options.codec !== undefined && options.codec !== "json" && options.codec !== "msgpack") {
    throw usage(`--codec must be json or msgpack, got "${options.codec}"`);
  }
  let tls: TlsClientOptions | undefined;
  if (options.caFile !== undefined) {
    try {
      tls = { ca: await readFile(options.caFile, "utf8") };
    } catch (error) {
      throw usage(`--ca ${options.caFile}: ${(error as Error).message}`);
    }
  }
  const { tcp, ws } = await adapters();
  const connectionOptions: ConnectionOptions & { connectTimeout: number } = {
    ...(options.codec === undefined ? {} : { codec: options.codec }),
    connectTimeout: options.connectTimeout ?? 10_000,
  };
  try {
    return await dialWith(tcp.connect, ws.connectWebSocket, tls)(endpoint, connectionOptions);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new CliError(ExitCode.unreachable, `cannot reach ${endpoint.url}: ${why}`, { cause: error });
  }
}

/** Closes a connection politely, and for good if that does not finish soon. */
export async function hangUp(connection: Connection): Promise<void> {
  await connection.close({ timeout: 500 }).catch(() => {});
  connection.destroy();
}
