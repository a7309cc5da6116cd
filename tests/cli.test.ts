/**
 * The `weft` command line (cli/), run as a child process on the runtime under test, against
 * a real server started here: a typed router served with reflection, and a raw cmd handler,
 * over TCP (and one WebSocket listener, and one TLS listener with a CA made for the test). Every child is killed if it outlives its timeout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { RpcError, Server } from "../mod.ts";
import { bidi, router, serve, unary } from "../src/typed/mod.ts";
import { cliProcedures } from "./fixtures/cli_procedures.ts";
import { adapter, commandFor, runtime } from "./support/runtime.ts";
import { testCertificates } from "./support/tls.ts";
import type { TcpListener } from "../adapters/options.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CHILD_TIMEOUT = 20_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `weft ...args` to its end on the runtime under test, with `stdin` piped in (then closed). */
function weft(args: string[], options: { stdin?: string; timeout?: number } = {}): Promise<Ran> {
  const [command, ...runtimeArgs] = commandFor(runtime, "cli/main.ts");
  const child = spawn(command, [...runtimeArgs, ...args], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  child.stdin.on("error", () => {}); // a child that exits before reading
  child.stdin.end(options.stdin ?? "");
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeout ?? CHILD_TIMEOUT} ms]`;
      child.kill("SIGKILL");
    }, options.timeout ?? CHILD_TIMEOUT);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** stdout's lines, each parsed as JSON. */
const jsonLines = (ran: Ran) => ran.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));

/** What a failed expectation shows: the child's whole output. */
const shown = (ran: Ran) => `exit ${ran.code}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`;

function expectExit(ran: Ran, code: number): void {
  if (ran.code !== code) throw new Error(`expected exit ${code}, got ${shown(ran)}`);
}

const api = router({
  ...cliProcedures,
  users: {
    get: unary(
      { input: v.number(), output: v.object({ id: v.number(), user: v.string() }), description: "a user by id" },
      (id, ctx) => ({ id, user: String(ctx.metadata.user ?? "nobody") + (ctx.metadata.role ? `/${ctx.metadata.role}` : "") }),
    ),
  },
  slow: unary({ input: v.number(), output: v.number() }, async (ms, ctx) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()));
    });
    return ms;
  }),
  broken: unary({ input: v.any(), output: v.any() }, () => {
    throw new RpcError("failed_precondition", "not today");
  }),
  shout: bidi({ input: v.string(), output: v.string() }, async function* (lines) {
    for await (const line of lines) yield line.toUpperCase();
  }),
});

const enc = new TextEncoder();
let server: Server;
let listener: TcpListener;
let plain: Server;
let plainListener: TcpListener;
let url = "";
let plainUrl = "";
let wsClose: (() => Promise<void>) | undefined;
let wsUrl = "";

beforeAll(async () => {
  server = new Server();
  serve(api, server, { reflection: true });
  server.handle(1, (req) => enc.encode(`hello, ${new TextDecoder().decode(req.payload)}`));
  server.handle(2, (req) => new Uint8Array([0x00, 0xff, ...req.payload]));
  listener = await adapter.listen(server);
  url = `tcp://127.0.0.1:${listener.port}`;
  // A plain server: typed procedures without reflection.
  plain = new Server();
  serve(api, plain);
  plainListener = await adapter.listen(plain);
  plainUrl = `tcp://127.0.0.1:${plainListener.port}`;
  const ws = await import(`../adapters/${runtime}_websocket.ts`);
  const wsListener = await ws.listenWebSocket(server, { hostname: "127.0.0.1", port: 0 });
  wsUrl = wsListener.url;
  wsClose = () => wsListener.close();
});

afterAll(async () => {
  await wsClose?.();
  await listener?.close();
  await plainListener?.close();
  await server?.close({ timeout: 1000 });
  await plain?.close({ timeout: 1000 });
});

describe("weft command line", () => {
  test("--help lists the commands and the exit codes; every command has its own --help", async () => {
    const ran = await weft(["--help"]);
    expectExit(ran, 0);
    for (const word of ["list", "describe", "call", "raw", "bench", "Exit codes:", "unknown procedure"]) {
      expect(ran.stdout).toContain(word);
    }
    for (const command of ["list", "describe", "call", "raw", "bench"]) {
      const own = await weft([command, "--help"]);
      expectExit(own, 0);
      expect(own.stdout).toContain(`Usage: weft ${command} URL`);
      expect(own.stdout).toContain("Exit codes:");
    }
  }, 120_000);

  test("list: the procedures with their shapes, from reflection", async () => {
    const ran = await weft(["list", url]);
    expectExit(ran, 0);
    const lines = ran.stdout.trim().split("\n").map((line) => line.trim().split(/\s+/).slice(0, 2));
    expect(lines).toEqual([
      ["broken", "unary"],
      ["hello", "unary"],
      ["shout", "bidi"],
      ["slow", "unary"],
      ["sum", "clientStream"],
      ["ticker", "serverStream"],
      ["users.get", "unary"],
    ]);
  }, CHILD_TIMEOUT);

  test("describe: one procedure's shape and JSON Schemas", async () => {
    const ran = await weft(["describe", url, "users.get"]);
    expectExit(ran, 0);
    const described = JSON.parse(ran.stdout);
    expect(described.name).toBe("users.get");
    expect(described.shape).toBe("unary");
    expect(described.description).toBe("a user by id");
    expect(described.input.type).toBe("number");
    expect(described.output.properties.user.type).toBe("string");
  }, CHILD_TIMEOUT);

  test("call: unary, over TCP and over WebSocket", async () => {
    const ran = await weft(["call", url, "hello", '{"name":"ada"}']);
    expectExit(ran, 0);
    expect(jsonLines(ran)).toEqual(["hello, ada"]);
    const overWs = await weft(["call", wsUrl, "hello", '{"name":"ws"}']);
    expectExit(overWs, 0);
    expect(jsonLines(overWs)).toEqual(["hello, ws"]);
  }, 2 * CHILD_TIMEOUT);

  test("call over tls:// trusting --ca; without it the certificate is refused (exit 3)", async () => {
    const tls = testCertificates();
    const secure = await adapter.listen(server, { tls: { cert: tls.cert, key: tls.key } });
    try {
      const caFile = join(mkdtempSync(join(tmpdir(), "weft-cli-")), "ca.pem");
      writeFileSync(caFile, tls.ca);
      const secureUrl = `tls://127.0.0.1:${secure.port}`;
      const ran = await weft(["call", secureUrl, "hello", '{"name":"tls"}', "--ca", caFile]);
      expectExit(ran, 0);
      expect(jsonLines(ran)).toEqual(["hello, tls"]);
      const untrusted = await weft(["call", secureUrl, "hello", '{"name":"tls"}']);
      expectExit(untrusted, 3);
      expect(untrusted.stderr).toContain(secureUrl);
    } finally {
      await secure.close();
    }
  }, 2 * CHILD_TIMEOUT);

  test("call --codec msgpack", async () => {
    const ran = await weft(["call", url, "users.get", "7", "--codec", "msgpack"]);
    expectExit(ran, 0);
    expect(jsonLines(ran)).toEqual([{ id: 7, user: "nobody" }]);
  }, CHILD_TIMEOUT);

  test("call: -H metadata reaches the handler (repeatable)", async () => {
    const ran = await weft(["call", url, "users.get", "7", "-H", "user=ada", "--header", "role=admin"]);
    expectExit(ran, 0);
    expect(jsonLines(ran)).toEqual([{ id: 7, user: "ada/admin" }]);
  }, CHILD_TIMEOUT);

  test("call: a server stream prints one JSON line per item", async () => {
    const ran = await weft(["call", url, "ticker", '{"count":4}']);
    expectExit(ran, 0);
    expect(jsonLines(ran)).toEqual([0, 1, 2, 3]);
  }, CHILD_TIMEOUT);

  test("call: a client stream reads JSON lines from stdin", async () => {
    const ran = await weft(["call", url, "sum"], { stdin: "1\n2\n\n3\n4" });
    expectExit(ran, 0);
    expect(jsonLines(ran)).toEqual([10]);
  }, CHILD_TIMEOUT);

  test("call: bidi reads stdin and prints each reply", async () => {
    const ran = await weft(["call", url, "shout"], { stdin: '"hi"\n"there"\n' });
    expectExit(ran, 0);
    expect(jsonLines(ran)).toEqual(["HI", "THERE"]);
  }, CHILD_TIMEOUT);

  test('call without reflection: "-" streams stdin, a value is sent as is', async () => {
    const summed = await weft(["call", plainUrl, "sum", "-"], { stdin: "5\n6\n" });
    expectExit(summed, 0);
    expect(jsonLines(summed)).toEqual([11]);
    const hello = await weft(["call", plainUrl, "hello", '{"name":"plain"}']);
    expectExit(hello, 0);
    expect(jsonLines(hello)).toEqual(["hello, plain"]);
  }, 2 * CHILD_TIMEOUT);

  test("call --timeout: a slow handler is deadline_exceeded (exit 1, code and message printed)", async () => {
    const ran = await weft(["call", url, "slow", "5000", "--timeout", "200"]);
    expectExit(ran, 1);
    expect(ran.stderr).toContain("deadline_exceeded");
  }, CHILD_TIMEOUT);

  test("another RPC error: exit 1 with its code and message", async () => {
    const ran = await weft(["call", url, "broken", "1"]);
    expectExit(ran, 1);
    expect(ran.stderr).toContain("failed_precondition: not today");
  }, CHILD_TIMEOUT);

  test("raw: text in, text out; bytes that are not text come back as hex", async () => {
    const text = await weft(["raw", url, "--cmd", "1", "--data", "weft"]);
    expectExit(text, 0);
    expect(text.stdout).toBe("hello, weft\n");
    const hex = await weft(["raw", url, "--cmd", "2", "--data", "0x0a0B", "--nonblocking"]);
    expectExit(hex, 0);
    expect(hex.stdout).toBe("0x00ff0a0b\n");
  }, 2 * CHILD_TIMEOUT);

  test("bench -d 1: calls/s, errors, percentiles and a histogram", async () => {
    const ran = await weft(["bench", url, "hello", '{"name":"b"}', "-c", "4", "-d", "1"], { timeout: 30_000 });
    expectExit(ran, 0);
    expect(ran.stdout).toMatch(/calls\/s:\s+\d+(\.\d+)?/);
    expect(ran.stdout).toMatch(/errors:\s+0/);
    expect(ran.stdout).toMatch(/p50 \S+ {2}p90 \S+ {2}p99 \S+ {2}max \S+/);
    expect(ran.stdout).toContain("Histogram");
    expect(ran.stderr).toBe(""); // no progress line when stderr is not a terminal
  }, 30_000);

  test("an unreachable server: exit 3, naming the URL", async () => {
    // A port that was just listening and is closed now.
    const gone = await adapter.listen(new Server());
    const port = gone.port;
    await gone.close();
    const ran = await weft(["call", `tcp://127.0.0.1:${port}`, "hello", "{}"]);
    expectExit(ran, 3);
    expect(ran.stderr).toContain(`tcp://127.0.0.1:${port}`);
  }, CHILD_TIMEOUT);

  test("an unknown procedure: exit 4, from the server's unimplemented (call, describe, list without reflection)", async () => {
    const called = await weft(["call", url, "nope", "{}"]);
    expectExit(called, 4);
    expect(called.stderr).toContain("unimplemented");
    expect(called.stderr).toContain("nope");
    const described = await weft(["describe", url, "nope"]);
    expectExit(described, 4);
    const listed = await weft(["list", plainUrl]);
    expectExit(listed, 4);
    expect(listed.stderr).toContain("reflection");
  }, 3 * CHILD_TIMEOUT);

  test("invalid input: exit 2, saying which (bad JSON, refused by the schema, bad stdin line, bad arguments)", async () => {
    const badJson = await weft(["call", url, "hello", "{name:"]);
    expectExit(badJson, 2);
    expect(badJson.stderr).toContain("not valid JSON");
    const refused = await weft(["call", url, "hello", '{"name":42}']);
    expectExit(refused, 2);
    expect(refused.stderr).toContain("invalid_argument");
    const badLine = await weft(["call", url, "sum"], { stdin: "1\nnot json\n" });
    expectExit(badLine, 2);
    expect(badLine.stderr).toContain("stdin line 2");
    for (
      const [args, says] of [
        [["call", url], "missing <NAME>"],
        [["frobnicate"], 'unknown command "frobnicate"'],
        [["raw", url], "--cmd"],
        [["call", "http://x:1", "hello"], "scheme"],
        [["call", url, "hello", "--timeout", "soon"], "--timeout"],
        [["call", url, "hello", "-H", "novalue"], "key=value"],
        [["call", url, "hello", "--bogus"], "unknown option --bogus"],
      ] as const
    ) {
      const ran = await weft([...args]);
      expectExit(ran, 2);
      expect(ran.stderr).toContain(says);
    }
  }, 12 * CHILD_TIMEOUT);
});
