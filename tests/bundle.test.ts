/**
 * What a browser imports stays browser-safe: src/transports/websocket_client.ts (the core engine over
 * a Web-standard WebSocket) alone, and with the typed client (src/typed/mod.ts), bundle
 * with esbuild for platform "browser" without errors or warnings, import nothing from
 * `node:` (nor anything left external), pull in no adapter, and reference no `Deno.` or
 * `Bun.` global. Sizes: bench/bundle.ts.
 */
import { describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = fileURLToPath(new URL("../", import.meta.url));

const ENTRIES: Record<string, string> = {
  "the WebSocket client (core)": `
    import { connectWebSocket } from "./src/transports/websocket_client.ts";
    const connection = await connectWebSocket({ url: "/qrpc" });
    console.log((await connection.request(1, new Uint8Array([1]))).payload);`,
  "the WebSocket client + the typed client": `
    import { connectWebSocket } from "./src/transports/websocket_client.ts";
    import { createClient } from "./src/typed/mod.ts";
    const connection = await connectWebSocket({ url: "/qrpc" });
    console.log(await createClient<any>(connection).hello({ name: "browser" }));`,
};

/** A runtime global used as one: `Deno.x`, `Bun?.x`, `Deno["x"]`, `globalThis.Bun.x`. */
const RUNTIME_GLOBAL = /\b(?:Deno|Bun)\s*(?:\?\.|\.|\[)/g;

describe("browser bundle", () => {
  for (const [name, contents] of Object.entries(ENTRIES)) {
    test(`${name}: bundles for the browser with no Node-only code and no Deno/Bun globals`, async () => {
      let result: esbuild.BuildResult<{ write: false; metafile: true }>;
      try {
        result = await esbuild.build({
          stdin: { contents, resolveDir: root, loader: "ts", sourcefile: "entry.ts" },
          bundle: true,
          platform: "browser",
          format: "esm",
          target: "es2022",
          minify: true,
          write: false,
          metafile: true,
          logLevel: "silent",
        });
      } catch (error) {
        // A `node:` import (or a Node built-in) fails here: esbuild says which and from where.
        const messages = (error as esbuild.BuildFailure).errors ?? [];
        throw new Error(`esbuild could not bundle it for the browser:\n${messages.map((m) => `${m.location?.file}:${m.location?.line}: ${m.text}`).join("\n") || error}`);
      } finally {
        await esbuild.stop(); // no esbuild service left behind (Deno's sanitizers, Bun's exit)
      }
      expect(result.warnings.map((w) => w.text)).toEqual([]);
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.filter((path) => path.startsWith("node:") || path.startsWith("adapters/") || path === "mod.ts")).toEqual([]);
      const output = Object.values(result.metafile.outputs)[0];
      expect(output.imports.map((i) => i.path)).toEqual([]); // nothing external: no node:, no bare imports left
      const code = result.outputFiles[0].text;
      expect(code.match(/["'`]node:[a-z_/]+/g) ?? []).toEqual([]);
      expect(code.match(RUNTIME_GLOBAL) ?? []).toEqual([]);
      expect(code.length).toBeGreaterThan(10_000); // it did bundle the engine
    }, 30_000);
  }
});
