/**
 * Cross-process and cross-runtime: a server on each of Bun, Deno and Node, in its own
 * process, answers a client of the runtime under test over real TCP on 127.0.0.1. Run
 * under all three runtimes, the suite covers all nine pairings.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Connection } from "../mod.ts";
import { Cmd } from "./fixtures/handlers.ts";
import { patterned, readU32, sameBytes, str, text, u32, until } from "./support/bytes.ts";
import { type ChildServer, startChildServer } from "./support/child_server.ts";
import { adapter, runtime, type RuntimeName } from "./support/runtime.ts";

const servers: ChildServer[] = [];
const clients: Connection[] = [];
afterAll(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(servers.map((server) => server.stop()));
});

for (const serverRuntime of ["bun", "deno", "node"] as RuntimeName[]) {
  describe(`${runtime} client -> ${serverRuntime} server (separate process)`, () => {
    let client: Connection;

    test("connects and runs the golden exchange", async () => {
      const server = await startChildServer(serverRuntime);
      servers.push(server);
      client = await adapter.connect({ port: server.port });
      clients.push(client);
      expect(str((await client.request(99)).payload)).toBe(serverRuntime);
      const reply = await client.request(Cmd.Hello, text("xu"));
      expect([reply.cmd, str(reply.payload)]).toEqual([Cmd.HelloReply, "hello world xu"]);
    }, 40_000);

    test("streams both ways and serves the server's call back", async () => {
      const got: number[] = [];
      for await (const chunk of await client.request(Cmd.Count, u32(50))) got.push(readU32(chunk));
      expect(got.length).toBe(50);
      expect(got[49]).toBe(49);

      const call = client.call(Cmd.Sum);
      for (let i = 0; i < 10; i++) await call.send(new Uint8Array(100));
      await call.end();
      expect(readU32((await call.response).payload)).toBe(1000);

      client.handle(Cmd.ClientConfirm, (req) => text(`${runtime} agrees to ${str(req.payload)}`));
      const answer = await client.request(Cmd.AskClient, text("merge"), { timeout: 5000 });
      expect(str(answer.payload)).toBe(`client said: ${runtime} agrees to merge`);
    });

    test("push, a large payload, and a reset", async () => {
      const pushed: string[] = [];
      client.onPush((message) => pushed.push(str(message.payload)));
      await client.request(Cmd.PushBack, text("ping"));
      await until(() => pushed.length === 1, 3000, "push");
      expect(pushed).toEqual(["ping"]);

      const big = patterned(3 * 1024 * 1024 + 7, 3);
      expect(sameBytes((await client.request(Cmd.Echo, big)).payload, big)).toBe(true);

      const error = await client.request(0x77).catch((e) => e);
      expect(error.code).toBe("unimplemented");
      expect(str((await client.request(Cmd.Echo, text("alive"))).payload)).toBe("alive");
    });
  });
}

describe(`${runtime} server in another process, flooded by a stream`, () => {
  test("a producer that never waits still hears a cancel, and other connections stay served", async () => {
    const server = await startChildServer(runtime);
    servers.push(server);
    const reader = await adapter.connect({ port: server.port });
    const other = await adapter.connect({ port: server.port });
    clients.push(reader, other);
    const reply = await reader.request(Cmd.Flood, new Uint8Array(0), { nonBlocking: true });
    let seen = 0;
    /** How many flood messages the reader had read when the other connection's reply came. */
    let answeredAt = -1;
    for await (const _ of reply) {
      if (++seen === 50_000) {
        other.request(Cmd.Echo, text("ping"), { nonBlocking: true }).then(() => (answeredAt = seen));
      }
      if (seen === 300_000) break; // resets the stream
    }
    await until(() => answeredAt >= 0, 5000, "the other connection's reply");
    // Served during the flood, not once it stopped: the reply came while the reader still read.
    expect(answeredAt).toBeLessThan(300_000);
    const deadline = Date.now() + 5000;
    let stats = (await other.request(Cmd.FloodStats, new Uint8Array(0), { nonBlocking: true })).payload;
    while (readU32(stats, 4) !== 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stats = (await other.request(Cmd.FloodStats, new Uint8Array(0), { nonBlocking: true })).payload;
    }
    expect(readU32(stats, 4)).toBe(1); // the generator stopped...
    expect(readU32(stats)).toBeLessThan(5_000_000); // ...on the reset, not at its end
  }, 40_000);
});
