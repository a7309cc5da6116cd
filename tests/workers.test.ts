/**
 * The Workers example (examples/workers/worker.ts: Hono, weft on /qrpc, a typed router) on
 * the real Workers runtime, workerd from node_modules, called over WebSocket by a weft
 * client on the runtime under test.
 *
 * WEFT_WORKERD_DATE=YYYY-MM-DD runs it under another compatibility date (default: the
 * example's, examples/workers/run_workerd.ts COMPATIBILITY_DATE).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Connection, RpcError } from "../mod.ts";
import { type Client, createClient } from "../src/typed/mod.ts";
import type { WebSocketConnectOptions, WebSocketConstructor, WebSocketLike } from "../src/transports/websocket_client.ts";
import type { api } from "../examples/workers/worker.ts";
import { COMPATIBILITY_DATE, type RunningWorkerd, startWorkerd } from "../examples/workers/run_workerd.ts";
import { runtime } from "./support/runtime.ts";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const compatibilityDate = env.WEFT_WORKERD_DATE || COMPATIBILITY_DATE;

/** This runtime's WebSocket client adapter (adapters/{bun,deno,node}_websocket.ts). */
const { connectWebSocket } = (await import(`../adapters/${runtime}_websocket.ts`)) as {
  connectWebSocket(options: WebSocketConnectOptions): Promise<Connection>;
};
/** The WebSocket class that adapter uses: the global one, or `ws` on Node 20. */
const BaseWebSocket = ((globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
  (await import("ws")).WebSocket) as unknown as WebSocketConstructor;

/** Rejects if `promise` has not settled within `ms`. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The error `promise` rejects with (fails the test if it resolves, or takes over 5 s). */
async function rejectionOf(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await within(5000, promise, what);
  } catch (error) {
    return error;
  }
  throw new Error(`${what}: resolved; expected an error`);
}

let workerd: RunningWorkerd | undefined;
const open: { connection: Connection; socket: WebSocketLike }[] = [];

/** A client connection to the Worker, and the WebSocket under it (to watch it close). */
async function connect(options: Partial<WebSocketConnectOptions> = {}): Promise<{ connection: Connection; socket: WebSocketLike; client: Client<typeof api> }> {
  let socket: WebSocketLike | undefined;
  // Records the socket the adapter opens; otherwise the adapter's own WebSocket.
  const Tracked = class extends (BaseWebSocket as new (url: string, protocols?: string | string[]) => object) {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      socket = this as unknown as WebSocketLike;
    }
  } as unknown as WebSocketConstructor;
  const connection = await connectWebSocket({
    url: `${workerd!.url.replace("http", "ws")}/qrpc`,
    connectTimeout: 5000,
    WebSocket: Tracked,
    ...options,
  });
  open.push({ connection, socket: socket! });
  return { connection, socket: socket!, client: createClient<typeof api>(connection) };
}

/** Resolves with the socket's close event (at once if it has closed already). */
function closeOf(socket: WebSocketLike): Promise<{ code: number }> {
  if (socket.readyState === 3) return Promise.resolve({ code: -1 });
  return new Promise((resolve) => socket.addEventListener("close", (event) => resolve({ code: event.code })));
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

describe(`the Workers example on workerd (compatibility date ${compatibilityDate})`, () => {
  beforeAll(async () => {
    workerd = await startWorkerd({ compatibilityDate, startTimeout: 15_000 });
  }, 30_000);

  afterAll(async () => {
    for (const { connection } of open) await within(2000, connection.close(), "closing a client").catch(() => {});
    await workerd?.stop();
  }, 10_000);

  test("the ordinary HTTP route answers beside weft", async () => {
    const page = await fetch(`${workerd!.url}/`, { signal: AbortSignal.timeout(5000) });
    expect(page.status).toBe(200);
    expect(await page.text()).toBe("weft on workerd: connect a weft client to /qrpc\n");
    const missing = await fetch(`${workerd!.url}/nothing-here`, { signal: AbortSignal.timeout(5000) });
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
  }, 10_000);

  test("a GET of /qrpc that asks no upgrade falls through to Hono's 404", async () => {
    const response = await fetch(`${workerd!.url}/qrpc`, { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(404);
    await response.body?.cancel();
  }, 10_000);

  test("a unary call", async () => {
    const { client } = await connect();
    expect(await client.hello({ name: "ada" }, { timeout: 5000 })).toBe("hello, ada, from workerd");
  }, 10_000);

  test("a server stream to its end, then one left early; the connection goes on", async () => {
    const { client } = await connect();
    expect(await within(5000, collect(client.ticker({ count: 4, everyMs: 10 })), "ticker")).toEqual([
      { tick: 1, of: 4 },
      { tick: 2, of: 4 },
      { tick: 3, of: 4 },
      { tick: 4, of: 4 },
    ]);
    const early = async () => {
      const seen: number[] = [];
      for await (const { tick } of client.ticker({ count: 100, everyMs: 10 })) {
        seen.push(tick);
        if (tick === 2) break; // cancels the call
      }
      return seen;
    };
    expect(await within(5000, early(), "a ticker left early")).toEqual([1, 2]);
    expect(await client.hello({ name: "again" }, { timeout: 5000 })).toBe("hello, again, from workerd");
  }, 15_000);

  test("an invalid input gets invalid_argument, with what was wrong, and the connection still works", async () => {
    const { client } = await connect();
    const error = await rejectionOf(client.hello({ name: "" }), "hello with an empty name");
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe("invalid_argument");
    expect((error as RpcError).message).toBe('invalid input of "hello": name: Invalid length: Expected >=1 but received 0');

    const streamError = await rejectionOf(collect(client.ticker({ count: 0, everyMs: 10 })), "ticker with count 0");
    expect((streamError as RpcError).code).toBe("invalid_argument");
    expect((streamError as RpcError).message).toContain('invalid input of "ticker": count');

    expect(await client.hello({ name: "still here" }, { timeout: 5000 })).toBe("hello, still here, from workerd");
    expect(await within(5000, collect(client.ticker({ count: 2, everyMs: 1 })), "ticker")).toHaveLength(2);
  }, 15_000);

  test("two clients at the same time, each with its own streams", async () => {
    const first = await connect();
    // The second offers the "null" subprotocol, as a browser's `new WebSocket(url, null)` does.
    const second = await connect({ protocols: "null" });
    expect((second.socket as WebSocketLike & { protocol: string }).protocol).toBe("null"); // echoed
    const [a, b, hello] = await within(
      5000,
      Promise.all([
        collect(first.client.ticker({ count: 3, everyMs: 20 })),
        collect(second.client.ticker({ count: 5, everyMs: 10 })),
        second.client.hello({ name: "second" }),
      ]),
      "two clients' calls",
    );
    expect(a.map((t) => `${t.tick}/${t.of}`)).toEqual(["1/3", "2/3", "3/3"]);
    expect(b.map((t) => `${t.tick}/${t.of}`)).toEqual(["1/5", "2/5", "3/5", "4/5", "5/5"]);
    expect(hello).toBe("hello, second, from workerd");

    // One leaving does not disturb the other.
    await within(2000, second.connection.close(), "closing the second client");
    expect(await first.client.hello({ name: "first" }, { timeout: 5000 })).toBe("hello, first, from workerd");
  }, 15_000);

  test("closing a client completes the WebSocket close handshake", async () => {
    const { connection, socket, client } = await connect();
    expect(await client.hello({ name: "bye" }, { timeout: 5000 })).toBe("hello, bye, from workerd");
    const closed = closeOf(socket);
    await within(2000, connection.close(), "connection.close()");
    // The Worker must answer the client's Close frame; without it the client's socket hangs
    // in CLOSING until its own timeout (30 s for `ws`) and workerd keeps the request alive.
    const { code } = await within(3000, closed, "the server's Close frame");
    expect(code).toBe(1000);
  }, 10_000);

  test("a client offering another subprotocol is refused, and told why", async () => {
    const error = await rejectionOf(connect({ protocols: "graphql-ws" }), "connecting with subprotocol graphql-ws");
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe("unavailable");
    // What the client's WebSocket does not show: the Worker's answer.
    const response = await fetch(`${workerd!.url}/qrpc`, {
      headers: { "sec-websocket-protocol": "graphql-ws" },
      signal: AbortSignal.timeout(5000),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe('weft: unsupported WebSocket subprotocol "graphql-ws"; offer none, or "null"');
  }, 10_000);
});
