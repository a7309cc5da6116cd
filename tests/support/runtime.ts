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

/** The TCP adapter native to the runtime under test. */
export const adapter: Adapter = await import(`../../adapters/${runtime}.ts`);

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
