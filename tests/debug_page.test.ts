/**
 * The debug page (adapters/hono_debug.ts) in a real browser: a server on the runtime under
 * test serves it on a Hono app beside weft, headless Chromium opens it, the test makes a call
 * over TCP, and the page shows it live (the procedure's row reads 1 call) through its
 * server-sent events. The screenshot goes to the temporary folder (the path is printed);
 * WEFT_DEBUG_SCREENSHOT=docs/images/debug-page.png refreshes the README's.
 *
 * Chromium is driven from a Node child (tests/support/debug_page_driver.mjs), as in
 * browser.test.ts; without /usr/bin/chromium (WEFT_CHROMIUM) the test is skipped, saying so.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import * as v from "valibot";
import { RpcError, Server } from "../mod.ts";
import { mountDebugPage, mountMetrics, Stats } from "../adapters/metrics.ts";
import type { WebSocketListener, WebSocketListenOptions } from "../adapters/websocket_options.ts";
import { createClient, event, router, serve, serverStream, unary } from "../src/typed/mod.ts";
import { adapter, runtime } from "./support/runtime.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOT = process.env.WEFT_DEBUG_SCREENSHOT ?? join(tmpdir(), `weft-debug-page-${runtime}.png`);
const PAGE_MS = 20_000;

const api = router({
  users: {
    get: unary(
      { input: v.object({ id: v.pipe(v.number(), v.integer()) }), output: v.object({ id: v.number(), name: v.string() }), description: "One user by id" },
      ({ id }) => {
        if (id < 0) throw new RpcError("not_found", `no user ${id}`);
        return { id, name: `user ${id}` };
      },
    ),
    list: serverStream({ input: v.object({ limit: v.number() }), output: v.object({ id: v.number(), name: v.string() }) }, async function* ({ limit }) {
      for (let id = 1; id <= limit; id++) yield { id, name: `user ${id}` };
    }),
  },
  greet: unary({ input: v.object({ name: v.string() }), output: v.string() }, ({ name }) => `hello, ${name}`),
  joined: event(v.object({ user: v.string() })),
});

const { listenWebSocket }: {
  listenWebSocket(server: Server, options?: WebSocketListenOptions): Promise<WebSocketListener>;
} = await import(`../adapters/${runtime}_websocket.ts`);

interface Driven {
  row: { name: string; calls: string; errors: string; codes: string; p50: string } | null;
  connections: number | null;
  runtimes: string[] | null;
  consoleErrors: string[];
  pageErrors: string[];
  error: string | null;
  ms: Record<string, number>;
}

/** Runs the driver; calls `onReady` when the page is up, resolves with its JSON. */
function drive(url: string, procedure: string, onReady: () => Promise<void>): Promise<Driven> {
  const child = spawn("node", ["tests/support/debug_page_driver.mjs", url, procedure, SCREENSHOT, String(PAGE_MS)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let ready = false;
  let readyError: unknown = null;
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
    if (!ready && /^ready$/m.test(stdout)) {
      ready = true;
      onReady().catch((error) => (readyError = error));
    }
  });
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), PAGE_MS + 20_000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        const driven = JSON.parse(line) as Driven;
        if (readyError !== null) driven.error = `the call failed: ${readyError}`;
        resolve(driven);
      } catch {
        resolve({ row: null, connections: null, runtimes: null, consoleErrors: [], pageErrors: [], error: `the driver exited with ${code ?? signal}; stdout: ${stdout} stderr: ${stderr}`, ms: {} });
      }
    });
  });
}

describe("debug page", () => {
  test(`Chromium shows a call live on the debug page of a ${runtime} server, and a screenshot is saved`, async () => {
    if (!existsSync(CHROMIUM)) {
      console.log(`  [debug page] skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
      return;
    }
    const stats = new Stats({ router: api });
    const server = new Server({ hooks: stats.hooks });
    serve(api, server);
    const app = new Hono();
    mountMetrics(app, stats);
    mountDebugPage(app, { stats, router: api, title: "weft · example service" });
    const web = await listenWebSocket(server, { port: 0, app });
    const tcp = await adapter.listen(server, { port: 0 });
    const connection = await adapter.connect({ port: tcp.port });
    const idle = await adapter.connect({ port: tcp.port }); // a second connection, for the table
    try {
      const client = createClient<typeof api>(connection);
      // Some traffic first, so the page (and its screenshot) has numbers to show.
      for (let id = 1; id <= 12; id++) await client.users.get({ id });
      await createClient<typeof api>(idle).users.get({ id: 1 }); // its handshake names its runtime too
      expect(await client.users.get({ id: -1 }).catch((e: RpcError) => e.code)).toBe("not_found");
      for await (const _ of client.users.list({ limit: 3 })) { /* drained */ }
      mkdirSync(`${root}docs/images`, { recursive: true });
      const driven = await drive(`http://${web.hostname.includes(":") ? `[${web.hostname}]` : web.hostname}:${web.port}/weft`, "greet", async () => {
        expect(await client.greet({ name: "debug page" })).toBe("hello, debug page");
      });
      expect({ error: driven.error, pageErrors: driven.pageErrors, consoleErrors: driven.consoleErrors }).toEqual({ error: null, pageErrors: [], consoleErrors: [] });
      expect(driven.row?.name).toBe("greet");
      expect(driven.row?.calls).toBe("1");
      expect(driven.row?.errors).toBe("0");
      expect(driven.row?.codes).toBe("ok 1");
      expect(driven.connections).toBe(2);
      // Each client announced its runtime in the handshake; the page names it.
      const runtimeName = { bun: "Bun/", deno: "Deno/", node: "Node.js/" }[runtime];
      expect(driven.runtimes?.map((cell) => cell.startsWith(runtimeName))).toEqual([true, true]);
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
      console.log(`  [debug page] ${runtime}: ready ${driven.ms.ready} ms, call seen ${driven.ms.seen} ms, total ${driven.ms.total} ms; ${SCREENSHOT}`);
    } finally {
      connection.destroy();
      idle.destroy();
      await web.close();
      await tcp.close();
      await server.close({ timeout: 100 });
    }
  }, PAGE_MS + 30_000);
});
