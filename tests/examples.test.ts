/**
 * The demo the README starts with, the typed examples (examples/typed/) and the cluster
 * example (examples/cluster/, which needs redis-server), run on the runtime under test as a
 * newcomer would run them, and print what they promise.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { commandFor, runtime } from "./support/runtime.ts";

const root = fileURLToPath(new URL("../", import.meta.url));

function run(script: string, ms = 30_000): Promise<{ code: number | null; output: string }> {
  const [command, ...args] = commandFor(runtime, script);
  const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Asserts that `lines` appear in `output` in this order. */
function expectInOrder(output: string, lines: string[]): void {
  let from = 0;
  for (const line of lines) {
    const at = output.indexOf(line, from);
    expect(at === -1 ? `missing after offset ${from}: ${line}\n--- output ---\n${output}` : "found").toBe("found");
    from = at + line.length;
  }
}

describe("examples", () => {
  test("large payloads: 1 MiB echoed three times with lent buffers, every byte intact", async () => {
    const { code, output } = await run("examples/large_payloads.ts");
    expectInOrder(output, [1, 2, 3].map((round) => `round ${round}: 1 MiB echoed, every byte intact`));
    expect(output).not.toContain("CORRUPTED");
    expect(code).toBe(0);
  });

  test("the demo goes through every mode and exits cleanly", async () => {
    const { code, output } = await run("examples/demo.ts");
    expect(output).toContain(`weft demo on ${runtime}`);
    expectInOrder(output, [
      "Part 1. Typed procedures",
      '1. unary: await client.hello({ name: "ada" }) -> "hello, ada"',
      '2. a bad input is refused before the handler runs -> invalid_argument: invalid input of "hello": name:',
      "for await (const tick of client.ticker({ count: 3 })) -> 1, 2, 3",
      "await client.sum(numbers()) -> 6",
      "client.shout(lines()) -> HI, BYE",
      'went to 1 connection; the subscriber got "maintenance at noon"',
      '(the client was asked "deploy v2?" and said yes)',
      '"deployed v2"',
      "Part 2. The qrpc modes underneath",
    ]);
    expect(output).toContain("[client] hello, weft");
    expect(output).toContain("[client] tick 3/3");
    expect(output).toContain("[client] stored 3584 bytes");
    expect(output).toContain("[client] profile 7 for ada, 2000 ms left, avatar of 2 bytes");
    expect(output).toContain("trailer served-by: example-server; compression gzip, CRC-32 true");
    expect(output).toContain("[client] echo: HOW ARE YOU");
    expect(output).toContain("[client] server asks: deploy v2? -> yes");
    expect(output).toContain("[client] deployed v2");
    expect(output).toContain("was cancelled");
    expect(output).toContain("unimplemented: no such cmd: 16962");
    expect(output).toContain("[server] push from a client: client online");
    expect(output).toContain("[server] pushed an announcement to 1 connection(s)");
    expect(output).toContain("[client] push from the server: someone is online");
    expect(output).toContain("done: server closed gracefully");
    expect(code).toBe(0);
  }, 40_000);
});

describe("the channel example", () => {
  test("round-robin, a graceful restart with nothing lost, a tracked stream resumed across a dropped connection", async () => {
    const { code, output } = await run("examples/channel.ts");
    expectInOrder(output, [
      "1. round-robin: A, B, A, B",
      "2. graceful restart of A: 20 calls, 20 answered, none failed",
      "3. a tracked stream across a dropped connection: 60 items, in order: true",
      "done",
    ]);
    expect(code).toBe(0);
  }, 40_000);
});

describe("typed examples", () => {
  test("hello: a unary call, and a bad input refused before the handler", async () => {
    const { code, output } = await run("examples/typed/hello.ts");
    expectInOrder(output, [
      "[server] listening on 127.0.0.1:",
      "[client] hello, weft",
      '[client] refused: invalid_argument: invalid input of "hello": name: Invalid length',
      "done",
    ]);
    expect(code).toBe(0);
  }, 40_000);

  test("ticker: a server stream to its end, then one left early cancels the handler", async () => {
    const { code, output } = await run("examples/typed/ticker.ts");
    expectInOrder(output, [
      "[client] tick 1/3",
      "[client] tick 2/3",
      "[client] tick 3/3",
      "[client] the server says: complete",
      "[client] tick 1 of a long stream",
      "[client] tick 2 of a long stream",
      "[server] the client stopped listening: ticker stopped",
      "done",
    ]);
    expect(output).not.toContain("tick 3 of a long stream");
    expect(code).toBe(0);
  }, 40_000);

  test("upload: a client stream with progress, acknowledged once", async () => {
    const { code, output } = await run("examples/typed/upload.ts");
    expectInOrder(output, [
      "[client] sent 64 KiB of 256 KiB (25%)",
      "[client] sent 128 KiB of 256 KiB (50%)",
      "[client] sent 192 KiB of 256 KiB (75%)",
      "[client] sent 256 KiB of 256 KiB (100%)",
      "[client] the server acknowledged 262144 bytes in 4 chunks",
      "done",
    ]);
    expect(output).toContain("[server] stored photo.raw: 262144 bytes in 4 chunks");
    expect(code).toBe(0);
  }, 40_000);

  test("chat: two users over bidi streams, each seeing what the other says", async () => {
    const { code, output } = await run("examples/typed/chat.ts");
    expectInOrder(output, [
      "[ada's screen] room: ada joined",
      "[ada's screen] room: bob joined",
      "[bob's screen] ada: hi bob!",
      "[ada's screen] bob: hi ada, gotta go, bye",
      "[ada's screen] room: bob left",
      "done",
    ]);
    expect(output).toContain("[bob's screen] room: bob joined");
    expect(output).toContain("[ada's screen] ada: hi bob!");
    expect(output).toContain("[bob's screen] bob: hi ada, gotta go, bye");
    expect(code).toBe(0);
  }, 40_000);

  test("confirm: the server's handler calls the client mid-call", async () => {
    const { code, output } = await run("examples/typed/confirm.ts");
    expectInOrder(output, [
      "[server] deploy v2: asking the client first",
      '[client] the server asks "deploy v2 on tuesday?" -> yes',
      "[client] v2 is live",
      "[server] deploy v3: asking the client first",
      '[client] the server asks "deploy v3 on friday?" -> no',
      "[client] deploy failed: aborted: the client declined v3",
      "done",
    ]);
    expect(code).toBe(0);
  }, 40_000);

  test("notifications: events pushed to every subscriber, for await and callback alike", async () => {
    const { code, output } = await run("examples/typed/notifications.ts");
    expect(output).toContain('[server] pushed "server started" to 0 clients');
    for (const user of ["ana", "ben", "cy"]) {
      expect(output).toContain(`[${user}] caught up: server started`);
      expectInOrder(output, [`[${user}] info: v2 deployed`, `[${user}] warn: going down`]);
    }
    expectInOrder(output, [
      '[server] pushed "v2 deployed" to 3 clients',
      '[server] pushed "going down" to 3 clients',
      "done",
    ]);
    // emitTo went to cy alone.
    expectInOrder(output, ["[cy] info: v2 deployed", "[cy] info: cy, your export is ready", "[cy] warn: going down"]);
    expect(output.match(/your export is ready/g)?.length).toBe(1);
    expect(code).toBe(0);
  }, 40_000);
});

describe("the cluster example", () => {
  test("three instances on Bun, Deno and Node found through Redis: calls spread, an emit reaches every client once, all stopped", async () => {
    const { code, output } = await run("examples/cluster/main.ts");
    expect(output).toMatch(/started redis-server at redis:\/\/127\.0\.0\.1:|using Redis at /); // its own, unless REDIS_URL is set
    for (const name of ["bun-1", "deno-1", "node-1"]) {
      expect(output).toContain(`[${name}] listening on 127.0.0.1:`);
      expect(output).toContain(`[a client of ${name}] news from node-1: hello, everyone`);
    }
    expectInOrder(output, [
      "the channel discovered 3 instances of greeter in the registry",
      "call 1: hello client 1, from ",
      "call 6: hello client 6, from ",
      "calls spread over 3 instances: bun-1 2, deno-1 2, node-1 2",
      'node-1 emitted "hello, everyone": at once to its 2 connections, and through Redis to the other instances',
      "every client got it exactly once: true",
      "instances stopped; left in the registry: 0",
      "done",
    ]);
    expect(code).toBe(0);
  }, 40_000);
});
