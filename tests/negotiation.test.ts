/**
 * weft's extensions on qrpc's bytes: a weft pair negotiates without an extra round trip,
 * a plain qrpc peer on either side never sees a weft-only frame, heartbeats catch a
 * half-open connection, and a goaway lets a client move new calls elsewhere.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { RpcError, Server } from "../mod.ts";
import { Cmd, installHandlers } from "./fixtures/handlers.ts";
import { frame, hex, sleep, str, text, toHex, until } from "./support/bytes.ts";
import { startFreezableProxy } from "./support/freezable_proxy.ts";
import { startPair } from "./support/harness.ts";
import { startQrpcPeer } from "./support/qrpc_peer.ts";
import { RawSocket } from "./support/raw_socket.ts";
import { adapter, overTcp, runtime } from "./support/runtime.ts";

describe("negotiation", () => {
  test("two weft peers agree on version 1 while their first call is already in flight", async () => {
    const pair = await startPair((server) => installHandlers(server));
    // The first call goes out at once, as plain qrpc plus the hello bit: no round trip first.
    const reply = await pair.client.request(Cmd.Hello, text("xu"));
    expect(str(reply.payload)).toBe("hello world xu");
    await until(() => pair.client.protocolVersion === 1 && pair.serverSide.protocolVersion === 1, 2000, "negotiation");
    expect(str((await pair.client.request(Cmd.Echo, text("after"))).payload)).toBe("after");
    await pair.close();
  });

  test.skipIf(!overTcp)("a weft client against a plain qrpc server: pure qrpc, nothing weft-only reaches it", async () => {
    const qrpc = await startQrpcPeer();
    const client = await adapter.connect({ port: qrpc.port, heartbeatInterval: 20 });
    for (let i = 0; i < 20; i++) {
      const reply = await client.request(0, text(`n${i}`));
      expect([reply.cmd, str(reply.payload)]).toEqual([1, `hello world n${i}`]);
    }
    const call = client.call(2);
    await call.end(text("streamed"));
    expect(str((await call.response).payload)).toBe("streamed");
    await sleep(100); // several heartbeat intervals: none may be sent to a qrpc peer
    expect(client.protocolVersion).toBe(0);
    expect(client.isOpen).toBe(true);
    expect(qrpc.unknownCmdClosures).toBe(0);
    expect(qrpc.seen.filter((frame) => (frame.flags & 0x80) !== 0)).toEqual([]);
    // Its requests carry only the hello bit, which qrpc ignores.
    expect(qrpc.seen.every((frame) => (frame.flags & ~0x4f) === 0)).toBe(true);
    client.destroy();
    qrpc.close();
  });

  test("a plain qrpc client gets no control frame from a weft server", async () => {
    const server = new Server({ heartbeatInterval: 20 });
    installHandlers(server);
    const listener = await adapter.listen(server, { port: 0 });
    const raw = await RawSocket.connect(listener.port);
    for (let i = 0; i < 5; i++) {
      raw.write(hex("0000000e 00000000000000" + (2 * i + 3).toString(16).padStart(2, "0") + " 00 000000 7875"));
      const frame = await raw.readFrame();
      expect(frame[12]).toBe(0); // a plain reply
      await sleep(20);
    }
    await server.close({ timeout: 200 }); // no goaway either: the client never showed weft
    expect(await raw.waitClosed(2000)).toBe(true);
    expect(raw.pending).toBe(0);
  });

  test("a client that sets the hello bit gets HELLO, then its reply", async () => {
    const server = new Server({ heartbeatInterval: 5000 });
    installHandlers(server);
    const listener = await adapter.listen(server, { port: 0 });
    const raw = await RawSocket.connect(listener.port);
    raw.write(hex("0000000e 0000000000000003 40 000000 7875"));
    const hello = await raw.readFrame();
    // Control frame: id 0, flags 0x80, cmd 1 (HELLO), a JSON body.
    expect(toHex(hello.subarray(4, 16))).toBe("000000000000000080000001");
    const body = JSON.parse(str(hello.subarray(16)));
    expect(body.agent).toMatch(/^weft\/\d+\.\d+\.\d+ (Bun|Deno|Node\.js)\/\d/);
    delete body.agent;
    expect(body).toEqual({
      versions: [1],
      heartbeat: 5000,
      maxFrameSize: 10485760,
      window: 1048576,
      maxMetadataSize: 8192,
      codecs: ["raw", "json", "msgpack"],
      compression: ["gzip", "deflate", "deflate-raw"],
      checksum: ["crc32"],
    });
    expect(str((await raw.readFrame()).subarray(16))).toBe("hello world xu");
    raw.close();
    await server.close({ timeout: 100 });
  });

  test("a malformed control frame closes that connection alone, with a ProtocolError", async () => {
    const errors: unknown[] = [];
    const pair = await startPair((server) => installHandlers(server), { server: { onError: (e) => errors.push(e) } });
    const raw = await RawSocket.connect(pair.listener.port);
    raw.write(hex("0000000e 0000000000000003 40 000000 7875")); // become a weft peer
    await raw.readFrame();
    await raw.readFrame();
    raw.write(hex("0000000f 0000000000000000 80 000002 7b7b7b")); // SETTINGS "{{{"
    expect(await raw.waitClosed(2000)).toBe(true);
    await until(() => errors.length > 0, 2000, "error report");
    expect((errors[0] as Error).message).toContain("malformed control frame");
    expect(str((await pair.client.request(Cmd.Echo, text("fine"))).payload)).toBe("fine");
    await pair.close();
  });

  test.skipIf(!overTcp)("weft: false speaks pure qrpc and answers no hello", async () => {
    const qrpc = await startQrpcPeer();
    const client = await adapter.connect({ port: qrpc.port, weft: false });
    await client.request(0, text("x"));
    expect(qrpc.seen[0].flags).toBe(0);
    client.destroy();
    qrpc.close();
  });
});

describe("heartbeats", () => {
  test("a healthy idle connection stays up across many intervals", async () => {
    const pair = await startPair((server) => installHandlers(server), {
      server: { heartbeatInterval: 100 },
      client: { heartbeatInterval: 100 },
    });
    await pair.client.request(Cmd.Echo, text("hi"));
    await sleep(1000); // 10 intervals with no calls: only pings keep it alive
    expect(pair.client.isOpen).toBe(true);
    expect(str((await pair.client.request(Cmd.Echo, text("still"))).payload)).toBe("still");
    await pair.close();
  });

  test("a half-open connection fails its pending calls with unavailable within 4 intervals", async () => {
    const server = new Server({ heartbeatInterval: 100 });
    installHandlers(server);
    const listener = await adapter.listen(server, { port: 0 });
    const proxy = await startFreezableProxy(listener.port);
    const client = await adapter.connect({ port: proxy.port, heartbeatInterval: 100 });
    await client.request(Cmd.Echo, text("warm"));
    await until(() => client.protocolVersion === 1, 2000, "negotiation");
    proxy.freeze(); // the peer is gone, but no FIN or RST will ever say so
    const started = Date.now();
    const error = await client.request(Cmd.Hang, text("lost"), { nonBlocking: true }).catch((e) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain("heartbeat");
    // Not eager: dead only after 3 silent intervals, counted from the peer's last frame,
    // which may have come up to one interval before the freeze.
    expect(elapsed).toBeGreaterThanOrEqual(2 * 100 - 20);
    expect(elapsed).toBeLessThan(4 * 100 + 500); // bound: 4 intervals, plus scheduling slack
    proxy.close();
    await server.close({ timeout: 100 });
  });
});

describe("goaway", () => {
  test("a closing server tells its weft clients: new calls fail fast, in-flight ones finish", async () => {
    const goaways: string[] = [];
    const pair = await startPair((server) => {
      installHandlers(server);
      server.handle(60, async () => {
        await sleep(150);
        return text("finished");
      });
    }, { client: { onGoAway: (reason) => goaways.push(reason) } });
    await pair.client.request(Cmd.Echo, text("negotiate"));
    await until(() => pair.serverSide.protocolVersion === 1, 2000, "negotiation");
    const inflight = pair.client.request(60, text(""), { nonBlocking: true });
    await until(() => pair.serverSide.inFlight.requests === 1, 2000, "request to arrive");
    const closing = pair.server.close({ timeout: 2000 });
    await until(() => goaways.length === 1, 2000, "goaway");
    expect(goaways).toEqual(["closing"]);
    const refused = await pair.client.request(Cmd.Echo, text("new")).catch((e) => e);
    expect(refused.code).toBe("unavailable");
    expect(refused.message).toContain("going away");
    expect(str((await inflight).payload)).toBe("finished");
    await closing;
    await pair.close();
  });
});

describe("connection metadata and authentication", () => {
  async function authServer() {
    const server = new Server({
      authenticate: (metadata) => {
        if (metadata.token !== "sesame") throw new RpcError("unauthenticated", "bad token");
      },
    });
    installHandlers(server);
    server.handle(61, (req) => text(`hello ${req.connection.peerMetadata.user}`));
    const listener = await adapter.listen(server, { port: 0 });
    return { server, port: listener.port };
  }

  test("accepted metadata: the first call goes out at once and is served after the check", async () => {
    const { server, port } = await authServer();
    const client = await adapter.connect({ port, metadata: { token: "sesame", user: "ada" } });
    const reply = await client.request(61); // sent before the handshake, held by the server until accepted
    expect(str(reply.payload)).toBe("hello ada");
    expect(client.protocolVersion).toBe(1);
    client.destroy();
    await server.close({ timeout: 100 });
  });

  test("without authenticate, the first call's handler still sees the connection metadata and codec", async () => {
    const pair = await startPair((server) => {
      server.handle(61, (req) => text(`${req.connection.peerMetadata.user ?? "nobody"} ${req.connection.codec}`));
    });
    const named = await pair.connect({ metadata: { user: "ada" } });
    const coded = await pair.connect({ codec: "msgpack" });
    const plain = await pair.connect();
    // Each goes out before the handshake; the server holds it until SETTINGS says who and which codec.
    const replies = await Promise.all([named.request(61), coded.request(61), plain.request(61)]);
    expect(replies.map((reply) => str(reply.payload))).toEqual(["ada raw", "nobody msgpack", "nobody raw"]);
    await pair.close();
  });

  test("each end learns who the other is: its runtime by default, the application's own agent, none when told not to", async () => {
    const pair = await startPair((server) => installHandlers(server));
    const named = await pair.connect({ agent: "billing-worker/3.1" });
    const silent = await pair.connect({ agent: false });
    for (const client of [pair.client, named, silent]) await client.request(Cmd.Echo, text("x"));
    await until(() => pair.server.connections.size === 3 && [...pair.server.connections].every((c) => c.protocolVersion === 1), 2000, "handshakes");
    const runtimeName = { bun: "Bun", deno: "Deno", node: "Node.js" }[runtime];
    const ours = new RegExp(`^weft/\\d+\\.\\d+\\.\\d+ ${runtimeName.replace(".", "\\.")}/\\d`);
    expect(pair.serverSide.peerAgent).toMatch(ours);
    // The version it names is the package's (src/common/agent.ts keeps a copy).
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(pair.serverSide.peerAgent!.startsWith(`weft/${manifest.version} `)).toBe(true);
    expect(pair.client.peerAgent).toMatch(ours); // the server's, from HELLO
    const agents = [...pair.server.connections].map((c) => c.peerAgent);
    expect(agents.filter((agent) => agent === "billing-worker/3.1").length).toBe(1);
    expect(agents.filter((agent) => agent === null).length).toBe(1);
    await pair.close();
  });

  test.skipIf(!overTcp)("a plain qrpc client has no agent; a hostile one is cut to 200 printable characters", async () => {
    const server = new Server();
    installHandlers(server);
    const seen: (string | null)[] = [];
    server.handle(62, (req) => {
      seen.push(req.connection.peerAgent);
      return text("ok");
    });
    const listener = await adapter.listen(server, { port: 0 });
    const plain = await adapter.connect({ port: listener.port, weft: false });
    await plain.request(62);
    const raw = await RawSocket.connect(listener.port);
    raw.write(frame(1, 0x40, Cmd.Echo, text("hi"))); // the hello bit: the server greets
    expect((await raw.readFrame())[15]).toBe(1); // HELLO
    expect(str((await raw.readFrame()).subarray(16))).toBe("hi");
    const settings = { version: 1, heartbeat: 0, maxFrameSize: 1 << 20, agent: "evil\u0000\n<script>".repeat(40) };
    raw.write(frame(0, 0x80, 2, text(JSON.stringify(settings))));
    raw.write(frame(3, 0, 62));
    expect(str((await raw.readFrame()).subarray(16))).toBe("ok");
    expect(seen[0]).toBeNull();
    expect(seen[1]!.length).toBe(200);
    expect(seen[1]!.startsWith("evil??<script>evil")).toBe(true);
    plain.destroy();
    raw.close();
    await server.close({ timeout: 100 });
  });

  test("refused metadata: the calls fail with the server's code and reason; others go on", async () => {
    const { server, port } = await authServer();
    const good = await adapter.connect({ port, metadata: { token: "sesame", user: "ada" } });
    const errors: unknown[] = [];
    const bad = await adapter.connect({ port, metadata: { token: "guess" }, onError: (e) => errors.push(e) });
    const error = await bad.request(Cmd.Echo, text("let me in")).catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("unauthenticated");
    expect(error.message).toContain("bad token");
    expect((await bad.closed)?.message).toContain("bad token");
    expect(errors.length).toBe(1);
    expect(str((await good.request(61)).payload)).toBe("hello ada");
    good.destroy();
    await server.close({ timeout: 100 });
  });

  test("a plain qrpc client cannot authenticate: its requests are reset with reason 16", async () => {
    const { server, port } = await authServer();
    const raw = await RawSocket.connect(port);
    raw.write(hex("0000000e 0000000000000003 00 000000 7875"));
    expect(toHex(await raw.readFrame())).toBe("0000000c000000000000000304000010");
    raw.close();
    await server.close({ timeout: 100 });
  });
});

describe("structured errors on the wire", () => {
  test("an RpcError travels with its code, message and details to a weft caller", async () => {
    const pair = await startPair((server) => {
      server.handle(62, () => {
        throw new RpcError("failed_precondition", "cart is empty", { details: { cart: 42, items: [] } });
      });
    });
    const error = await pair.client.request(62).catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toBe("cart is empty");
    expect(error.details).toEqual({ cart: 42, items: [] });
    await pair.close();
  });

  test("an unexpected throw is internal with no message or stack, unless the server exposes errors", async () => {
    const fail = (server: Server) => server.handle(63, () => {
      throw new Error("db password is hunter2");
    });
    const quiet = await startPair(fail);
    const hidden = await quiet.client.request(63).catch((e) => e);
    expect([hidden.code, hidden.message, hidden.details]).toEqual(["internal", "internal error", undefined]);
    await quiet.close();

    const loud = await startPair(fail, { server: { exposeErrors: true } });
    const shown = await loud.client.request(63).catch((e) => e);
    expect(shown.code).toBe("internal");
    expect(shown.message).toBe("db password is hunter2");
    expect(String(shown.details.stack)).toContain("db password is hunter2");
    await loud.close();
  });

  test("on the wire: a weft peer's reset carries a JSON body, a plain peer's stays empty", async () => {
    const server = new Server();
    installHandlers(server);
    const listener = await adapter.listen(server, { port: 0 });
    const weftish = await RawSocket.connect(listener.port);
    weftish.write(hex("0000000f 0000000000000003 40 00000a 626f62")); // Deny "bob", hello bit set
    expect(toHex((await weftish.readFrame()).subarray(4, 16))).toBe("000000000000000080000001"); // HELLO
    const reset = await weftish.readFrame();
    expect(toHex(reset.subarray(4, 16))).toBe("000000000000000304000007"); // reason 7, permission_denied
    expect(JSON.parse(str(reset.subarray(16)))).toEqual({ message: "no entry for bob" });
    weftish.close();
    const plain = await RawSocket.connect(listener.port);
    plain.write(hex("0000000f 0000000000000003 00 00000a 626f62"));
    expect(toHex(await plain.readFrame())).toBe("0000000c000000000000000304000007"); // qrpc's empty reset
    plain.close();
    await server.close({ timeout: 100 });
  });
});
