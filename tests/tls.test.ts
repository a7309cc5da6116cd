/**
 * weft over TLS on TCP, with each runtime's own TLS (`node:tls`, Bun's `tls` options,
 * `Deno.listenTls` / `Deno.connectTls`), and certificates made for this run by
 * tests/support/tls.ts: a throwaway CA and a server certificate for 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Connection, Server } from "../mod.ts";
import { str, text } from "./support/bytes.ts";
import { adapter, runtime } from "./support/runtime.ts";
import { testCertificates } from "./support/tls.ts";

const { ca, cert, key } = testCertificates();
let server: Server;
let port: number;
let plainPort: number;
const pushed: string[] = [];

beforeAll(async () => {
  server = new Server();
  server.handle(1, (req) => req.payload);
  server.handle(2, async function* (req) {
    for (const part of str(req.payload).split(",")) yield text(part);
  });
  server.onPush((message) => pushed.push(str(message.payload)));
  port = (await adapter.listen(server, { port: 0, tls: { cert, key } })).port;
  plainPort = (await adapter.listen(server, { port: 0 })).port;
});
afterAll(() => server.close({ timeout: 100 }));

async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("TLS on TCP", () => {
  test("a client that trusts the CA: unary, a streamed reply and a push, over TLS", async () => {
    const client: Connection = await adapter.connect({ port, tls: { ca } });
    expect(str((await client.request(1, text("over tls"))).payload)).toBe("over tls");
    const parts: string[] = [];
    for await (const chunk of await client.request(2, text("a,b,c"))) parts.push(str(chunk));
    expect(parts).toEqual(["a", "b", "c"]);
    client.push(9, text("pushed"));
    const deadline = Date.now() + 2000;
    while (!pushed.includes("pushed") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(pushed).toContain("pushed");
    expect(client.protocolVersion).toBe(1); // weft's handshake rides inside TLS as on TCP
    await client.close();
  });

  test("a 1 MiB payload each way over TLS arrives intact", async () => {
    const client = await adapter.connect({ port, tls: { ca } });
    const payload = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff);
    const reply = await client.request(1, payload);
    expect(reply.payload.length).toBe(payload.length);
    expect(reply.payload.every((byte, i) => byte === payload[i])).toBe(true);
    await client.close();
  });

  test("a server certificate the client cannot verify fails the connect with unavailable", async () => {
    const error = await adapter.connect({ port, tls: true, connectTimeout: 5000 }).then(() => null, (e) => e);
    expect(error?.code).toBe("unavailable");
    expect(String(error?.message)).toMatch(/cert|issuer|self.signed|verify/i);
  });

  test("a TLS client against a plain server fails the connect, and the server serves on", async () => {
    const error = await adapter.connect({ port: plainPort, tls: { ca }, connectTimeout: 3000 }).then(() => null, (e) => e);
    expect(error?.code).toBe("unavailable");
    const plain = await adapter.connect({ port: plainPort });
    expect(str((await plain.request(1, text("still here"))).payload)).toBe("still here");
    await plain.close();
  });

  test("a plain client against the TLS port: its call fails, nothing hangs", async () => {
    const client = await adapter.connect({ port });
    const error = await within(5000, client.request(1, text("in the clear"))).then(() => null, (e) => e);
    expect(error?.code).toBe("unavailable");
    client.destroy();
  });
});

describe("wss://", () => {
  test("listenWebSocket with tls serves wss://; the runtime's client trusts the CA given as `ca`", async () => {
    const mod = await import(`../adapters/${runtime}_websocket.ts`) as typeof import("../adapters/node_websocket.ts");
    const wsServer = new Server();
    wsServer.handle(1, (req) => req.payload);
    const listener = await mod.listenWebSocket(wsServer, { port: 0, tls: { cert, key } });
    expect(listener.url.startsWith("wss://127.0.0.1:")).toBe(true);
    const client = await mod.connectWebSocket({ url: listener.url, ca });
    expect(str((await client.request(1, text("over wss"))).payload)).toBe("over wss");
    await client.close();
    const untrusted = await mod.connectWebSocket({ url: listener.url, connectTimeout: 5000 }).then(() => null, (e) => e);
    expect(untrusted?.code).toBe("unavailable");
    await wsServer.close({ timeout: 100 });
  });
});
