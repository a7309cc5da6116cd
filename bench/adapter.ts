/** Loads the weft TCP adapter of the runtime the bench runs on. */
import type { Connection, ConnectionOptions, Server } from "../mod.ts";
import { runtime } from "./common.ts";

export interface Adapter {
  listen(server: Server, options?: { hostname?: string; port?: number }): Promise<{ port: number; close(): Promise<void> }>;
  connect(options: { hostname?: string; port: number } & ConnectionOptions): Promise<Connection>;
}

export async function loadAdapter(): Promise<Adapter> {
  // Literal specifiers, one per runtime, so only the matching adapter is ever loaded.
  if (runtime === "bun") return await import("../adapters/bun.ts");
  // deno.ts is not in tsconfig's scope (it needs Deno's types); Deno itself loads it fine.
  // deno-lint-ignore no-explicit-any
  if (runtime === "deno") return (await import("../adapters/" + "deno.ts")) as any;
  return await import("../adapters/node.ts");
}
