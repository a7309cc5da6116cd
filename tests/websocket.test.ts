/**
 * qrpc's WebSocket bridge, byte for byte, on the runtime's Hono integration: messages
 * as the bridge defines them (binary, one frame per message out, any split in, empty
 * ignored, text refused with a clear close), subprotocols, TCP and WebSocket served by one
 * Server, and a slow reader that must not make the server buffer without bound.
 * (The rest of the suite also runs over WebSocket: tests/run.mjs's second pass.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as net from "node:net";
import { type Connection, Server } from "../mod.ts";
import { concat, frame, sleep, str, text, until } from "./support/bytes.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { runtime, webSocketUrl } from "./support/runtime.ts";

const ws = await import(`../adapters/${runtime}_websocket.ts`);
const tcp = await import(`../adapters/${runtime}.ts`);

const ECHO = 1;
const FLOOD = 2;
const CHUNK = 64 * 1024;
/** What the flood handler may produce at most: far more than any socket buffers hold. */
const FLOOD_LIMIT = 256 * 1024 * 1024;

let server: Server;
let listener: { port: number; url: string; close(): Promise<void> };
const errors: unknown[] = [];
let flooded = 0;
const clients: Connection[] = [];
const raws: RawSocket[] = [];

beforeAll(async () => {
  server = new Server({ onError: (error) => errors.push(error) });
  server.handle(ECHO, (req) => concat(text("echo:"), req.payload));
  server.handle(FLOOD, async function* (req) {
    const chunk = new Uint8Array(CHUNK);
    while (flooded < FLOOD_LIMIT && !req.signal.aborted) {
      flooded += CHUNK;
      yield chunk;
    }
  });
  listener = await ws.listenWebSocket(server, { port: 0 });
});

afterAll(async () => {
  for (const raw of raws) raw.close();
  for (const client of clients) client.destroy();
  await listener.close();
  await server.close({ timeout: 100 });
});

async function rawClient(protocols?: string[]): Promise<RawSocket> {
  const raw = await RawSocket.connectWebSocket(listener.port, "127.0.0.1", protocols);
  raws.push(raw);
  return raw;
}

async function client(): Promise<Connection> {
  const connection = await ws.connectWebSocket({ url: listener.url });
  clients.push(connection);
  return connection;
}

describe("qrpc's WebSocket bridge", () => {
  test("a frame split across three messages is one request", async () => {
    const raw = await rawClient();
    const bytes = frame(3, 0, ECHO, text("split"));
    raw.write(bytes.subarray(0, 2));
    raw.write(bytes.subarray(2, 19));
    raw.write(bytes.subarray(19));
    const reply = await raw.readFrame();
    expect(str(reply.subarray(16))).toBe("echo:split");
  });

  test("several frames in one message are several requests, each reply in its own message", async () => {
    const raw = await rawClient();
    const ids = Array.from({ length: 50 }, (_, i) => 3 + 2 * i);
    raw.write(concat(...ids.map((id) => frame(id, 0x08, ECHO, text(`m${id}`)))));
    const got = new Set<string>();
    // RawSocket fails the read if any message holds other than exactly one frame.
    for (const _ of ids) got.add(str((await raw.readFrame()).subarray(16)));
    expect(got).toEqual(new Set(ids.map((id) => `echo:m${id}`)));
  });

  test("empty binary messages are ignored", async () => {
    const raw = await rawClient();
    raw.write(new Uint8Array(0));
    raw.write(frame(3, 0, ECHO, text("after empty")));
    raw.write(new Uint8Array(0));
    expect(str((await raw.readFrame()).subarray(16))).toBe("echo:after empty");
  });

  test("a text message closes that connection with 1003 and a reason; others go on", async () => {
    const other = await client();
    const raw = await rawClient();
    errors.length = 0;
    raw.sendText("hello?");
    expect(await raw.waitClosed(3000)).toBe(true);
    expect(raw.closeCode).toBe(1003);
    expect(raw.closeReason).toContain("text messages are not supported");
    await until(() => errors.length > 0, 2000, "the server to report the text message");
    expect(String((errors[0] as Error).message)).toContain("text message");
    expect(str((await other.request(ECHO, text("still here"))).payload)).toBe("echo:still here");
  });

  test("a frame over the size limit closes that connection with 1002", async () => {
    const raw = await rawClient();
    const huge = frame(3, 0, ECHO);
    new DataView(huge.buffer).setUint32(0, 64 * 1024 * 1024);
    raw.write(huge);
    expect(await raw.waitClosed(3000)).toBe(true);
    expect(raw.closeCode).toBe(1002);
    expect(raw.closeReason.length).toBeGreaterThan(0);
  });
});

describe("subprotocols", () => {
  test("none offered (qrpc's Go client): accepted, none chosen", async () => {
    const raw = await rawClient();
    expect(raw.protocol).toBe("");
  });

  test('"null" offered (a browser\'s new WebSocket(url, null)): accepted and echoed', async () => {
    const raw = await rawClient(["null"]);
    expect(raw.protocol).toBe("null");
    raw.write(frame(3, 0, ECHO, text("null")));
    expect(str((await raw.readFrame()).subarray(16))).toBe("echo:null");
  });

  test("anything else is refused with 400 and says why", async () => {
    const failed = await rawClient(["graphql-ws"]).then(() => false, () => true);
    expect(failed).toBe(true);
    const response = await upgradeRequest("Sec-WebSocket-Protocol: graphql-ws\r\n");
    expect(response.startsWith("HTTP/1.1 400")).toBe(true);
    expect(response).toContain('unsupported WebSocket subprotocol "graphql-ws"');
  });
});

describe("one server, two transports", () => {
  test("TCP and WebSocket clients of one Server at once, each sees only its replies", async () => {
    const tcpListener = await tcp.listen(server, { port: 0 });
    try {
      const overTcp = await tcp.connect({ port: tcpListener.port });
      clients.push(overTcp);
      const overWs = await client();
      const [a, b] = await Promise.all([
        Promise.all(Array.from({ length: 100 }, (_, i) => overTcp.request(ECHO, text(`t${i}`)))),
        Promise.all(Array.from({ length: 100 }, (_, i) => overWs.request(ECHO, text(`w${i}`)))),
      ]);
      expect(a.map((r) => str(r.payload))).toEqual(Array.from({ length: 100 }, (_, i) => `echo:t${i}`));
      expect(b.map((r) => str(r.payload))).toEqual(Array.from({ length: 100 }, (_, i) => `echo:w${i}`));
    } finally {
      await tcpListener.close();
    }
  });

  test("a 1 MiB payload crosses in one message each way", async () => {
    const connection = await client();
    const big = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
    const reply = await connection.request(ECHO, big);
    expect(reply.payload.length).toBe(big.length + 5);
    expect(reply.payload[5 + 1000]).toBe(1000 & 0xff);
  });
});

describe("backpressure", () => {
  test("a peer that stops reading does not make the server buffer without bound", async () => {
    // A hand-made WebSocket client on a raw TCP socket, so it can stop reading: a plain qrpc
    // peer (no weft flow control), asking for an endless reply stream.
    const socket = net.connect({ port: listener.port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    try {
      socket.write(
        `GET /qrpc HTTP/1.1\r\nHost: 127.0.0.1:${listener.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      const head = await new Promise<string>((resolve) => socket.once("data", (chunk) => resolve(String(chunk))));
      expect(head.startsWith("HTTP/1.1 101")).toBe(true);
      socket.pause(); // from here on, nothing is read: the kernel buffers fill, then the server's
      socket.write(maskedBinaryMessage(frame(3, 0, FLOOD)));
      flooded = 0;
      await until(() => flooded > 0, 3000, "the flood to start");
      // Let the server run into the full socket, then watch it hold still.
      let previous = -1;
      for (let i = 0; i < 40 && flooded !== previous; i++) {
        previous = flooded;
        await sleep(150);
      }
      // Socket buffers (kernel, both ends) plus weft's 1 MiB high-water mark and the stream's
      // own queue: tens of MiB at most, against the 256 MiB the handler would make unchecked.
      expect(flooded).toBeLessThan(48 * 1024 * 1024);
      expect(flooded).toBe(previous);
      // Nothing was dropped to get there: once the peer reads again, the same stream flows on.
      let received = 0;
      socket.on("data", (chunk: Uint8Array) => (received += chunk.length));
      socket.resume();
      await until(() => flooded > previous + 8 * CHUNK && received > previous, 5000, "the stream to flow again");
      // The server still serves everyone else.
      const other = await client();
      expect(str((await other.request(ECHO, text("unaffected"))).payload)).toBe("echo:unaffected");
    } finally {
      socket.destroy();
    }
    await until(() => server.connections.size <= clients.length + raws.length + 1, 3000, "the slow peer's connection to go");
  }, 20_000);
});

/** Sends an upgrade request by hand (fetch refuses to) and returns the whole response. */
async function upgradeRequest(extraHeaders: string): Promise<string> {
  const socket = net.connect({ port: listener.port, host: "127.0.0.1" });
  let response = "";
  socket.on("data", (chunk) => (response += String(chunk)));
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(
    `GET /qrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
  );
  await Promise.race([ended, until(() => response.includes("subprotocol"), 3000, "a response").catch(() => {})]);
  socket.destroy();
  return response;
}

/** One client-to-server WebSocket message: FIN + binary opcode, masked with key 0 (payload unchanged). */
function maskedBinaryMessage(payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const head = length < 126 ? [0x82, 0x80 | length] : [0x82, 0x80 | 126, length >> 8, length & 0xff];
  return concat(new Uint8Array(head), new Uint8Array(4), payload);
}

test("webSocketUrl names the bridge's default path", () => {
  expect(webSocketUrl(1234)).toBe("ws://127.0.0.1:1234/qrpc");
});
