/**
 * The engine's instrumentation seam (src/engine/hooks.ts): connections opening and closing,
 * calls and requests starting and ending on both sides, with how they ended; a hook that
 * throws at the start refuses that call (rate limiting) and nothing else; one that throws
 * later goes to onError.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { combineHooks, type Connection, type Hooks, RpcError, type Server } from "../mod.ts";
import { sleep, str, text, until } from "./support/bytes.ts";
import { type Pair, startPair } from "./support/harness.ts";

const pairs: Pair[] = [];
afterEach(async () => {
  for (const pair of pairs.splice(0)) await pair.close();
});

function install(server: Server): void {
  server.handle(1, (req) => req.payload);
  server.handle(2, () => {
    throw new RpcError("not_found", "nothing here");
  });
  server.handle(3, (req) => new Promise<Uint8Array>((resolve) => req.signal.addEventListener("abort", () => resolve(text("")))));
  server.handle(4, async function* () {
    for (let i = 0; i < 3; i++) yield text(`${i}`);
  });
}

/** Hooks that write what they see into `log`. */
function recorder(log: string[], side: string): Hooks {
  const code = (error: unknown) => (error === undefined ? "ok" : error instanceof RpcError ? error.code : String(error));
  return {
    connectionOpened: () => log.push(`${side} opened`),
    connectionClosed: (_, error) => log.push(`${side} closed${error ? `: ${error.message}` : ""}`),
    callStarted: (_, cmd) => {
      log.push(`${side} call ${cmd}`);
      return (error) => log.push(`${side} call ${cmd} ended ${code(error)}`);
    },
    requestStarted: (request) => {
      log.push(`${side} request ${request.cmd}`);
      return (error) => log.push(`${side} request ${request.cmd} ended ${code(error)}`);
    },
  };
}

async function pairWith(server: Hooks, client: Hooks, onError?: (error: unknown) => void): Promise<Pair> {
  const pair = await startPair(install, { server: { hooks: server, onError }, client: { hooks: client } });
  pairs.push(pair);
  return pair;
}

describe("hooks", () => {
  test("a call and its request: started and ended on both sides, with how they ended", async () => {
    const log: string[] = [];
    const pair = await pairWith(recorder(log, "server"), recorder(log, "client"));
    expect(str((await pair.client.request(1, text("hi"))).payload)).toBe("hi");
    await pair.client.request(2).catch(() => {});
    await until(() => log.includes("server request 2 ended not_found"), 2000, "the failed request's end");
    expect(log).toContain("client opened");
    expect(log).toContain("server opened");
    expect(log.filter((line) => line.includes(" 1"))).toEqual([
      "client call 1",
      "server request 1",
      "server request 1 ended ok",
      "client call 1 ended ok",
    ]);
    expect(log).toContain("client call 2 ended not_found");
    expect(log).toContain("server request 2 ended not_found");
  });

  test("a cancelled call ends cancelled on both sides; a stream ends once its last frame is out", async () => {
    const log: string[] = [];
    const pair = await pairWith(recorder(log, "server"), recorder(log, "client"));
    const controller = new AbortController();
    const waiting = pair.client.request(3, undefined, { signal: controller.signal, nonBlocking: true }).catch((e) => e);
    await until(() => log.includes("server request 3"), 2000, "the request to start");
    controller.abort();
    expect((await waiting).code).toBe("cancelled");
    await until(() => log.includes("server request 3 ended cancelled"), 2000, "the server's end");
    expect(log).toContain("client call 3 ended cancelled");

    const items: string[] = [];
    for await (const item of await pair.client.request(4)) items.push(str(item));
    expect(items).toEqual(["0", "1", "2"]);
    await until(() => log.includes("client call 4 ended ok"), 2000, "the stream's end");
    expect(log).toContain("server request 4 ended ok");
  });

  test("connections close with their error on both sides", async () => {
    const log: string[] = [];
    const pair = await pairWith(recorder(log, "server"), recorder(log, "client"));
    const closed: Connection = pair.client;
    closed.destroy(new Error("gone"));
    await until(() => log.some((line) => line.startsWith("server closed")), 2000, "the server to see it");
    expect(log).toContain("client closed: gone");
  });

  test("requestStarted that throws refuses that request with its code; the handler never runs, the next call goes through", async () => {
    let allowed = 1;
    let ran = 0;
    const pair = await pairWith({
      requestStarted: () => {
        if (allowed-- <= 0) throw new RpcError("resource_exhausted", "rate limit: 1 call");
      },
    }, {});
    pair.server.handle(5, () => {
      ran++;
      return text("ran");
    });
    expect(str((await pair.client.request(5)).payload)).toBe("ran");
    const error = await pair.client.request(5).catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("resource_exhausted");
    expect(error.message).toContain("rate limit: 1 call");
    expect(ran).toBe(1);
    allowed = 1;
    expect(str((await pair.client.request(1, text("after"))).payload)).toBe("after");
  });

  test("callStarted that throws refuses the call before anything is sent", async () => {
    let seen = 0;
    const pair = await pairWith({ requestStarted: () => void seen++ }, {
      callStarted: (_, cmd) => {
        if (cmd === 9) throw new RpcError("permission_denied", "not cmd 9");
      },
    });
    const error = await pair.client.request(9).catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("permission_denied");
    expect(str((await pair.client.request(1, text("ok"))).payload)).toBe("ok");
    expect(seen).toBe(1);
  });

  test("combineHooks: every set hears every event in order; a set that refuses a call ends the ones before it", async () => {
    const log: string[] = [];
    const refusing: Hooks = {
      callStarted: (_, cmd) => {
        if (cmd === 9) throw new RpcError("permission_denied", "not cmd 9");
      },
    };
    const pair = await pairWith(
      combineHooks(recorder(log, "server A"), recorder(log, "server B")),
      combineHooks(recorder(log, "client A"), refusing, recorder(log, "client B")),
    );
    expect(str((await pair.client.request(1, text("hi"))).payload)).toBe("hi");
    await until(() => log.includes("client B call 1 ended ok"), 2000, "the call's end");
    expect(log.filter((line) => line.includes(" 1"))).toEqual([
      "client A call 1",
      "client B call 1",
      "server A request 1",
      "server B request 1",
      "server A request 1 ended ok",
      "server B request 1 ended ok",
      "client A call 1 ended ok",
      "client B call 1 ended ok",
    ]);
    const refused = await pair.client.request(9).catch((e) => e);
    expect(refused instanceof RpcError && refused.code).toBe("permission_denied");
    // A started the call before the refusal, so it hears it end; B never started it.
    expect(log.filter((line) => line.includes(" 9"))).toEqual(["client A call 9", "client A call 9 ended permission_denied"]);
    expect(combineHooks({}, {})).toEqual({}); // nothing to hear: the engine pays nothing
  });

  test("an end hook that throws goes to onError; the connection serves on", async () => {
    const errors: unknown[] = [];
    const pair = await pairWith({ requestStarted: () => () => {
      throw new Error("hook broke");
    } }, {}, (error) => errors.push(error));
    expect(str((await pair.client.request(1, text("a"))).payload)).toBe("a");
    await sleep(10);
    expect(errors.map((e) => (e as Error).message)).toEqual(["hook broke"]);
    expect(str((await pair.client.request(1, text("b"))).payload)).toBe("b");
  });

  test("a connection counts the bytes it read and wrote: what one side wrote, the other read", async () => {
    const pair = await pairWith({}, {});
    expect(pair.client.bytes.read).toBeGreaterThanOrEqual(0);
    const before = { written: pair.client.bytes.written, read: pair.client.bytes.read };
    expect(str((await pair.client.request(1, text("x".repeat(1000)))).payload)).toBe("x".repeat(1000));
    expect(pair.client.bytes.written - before.written).toBeGreaterThanOrEqual(1000 + 16); // the payload and a header at least
    expect(pair.client.bytes.read - before.read).toBeGreaterThanOrEqual(1000 + 16);
    await until(() => pair.serverSide.bytes.read === pair.client.bytes.written, 2000, "the server to read all the client wrote");
    await until(() => pair.client.bytes.read === pair.serverSide.bytes.written, 2000, "the client to read all the server wrote");
  });
});
