/**
 * A channel against servers that die, restart and drain: real processes on 127.0.0.1, the
 * runtime under test on both ends, over TCP and (second pass) WebSocket. What must hold:
 * no call that was acknowledged is lost, no non-idempotent call runs twice, the channel
 * recovers within a stated bound, and a graceful restart fails no call at all.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Channel, RpcError } from "../mod.ts";
import { str, text } from "./support/bytes.ts";
import { createChannel, endpointFor, FAST_RECONNECT } from "./support/channel.ts";
import { type NamedServer, startNamedServer } from "./support/named_server.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-faults-"));
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
  cleanup = [];
});

function logFile(name: string): string {
  return join(dir, `${name}-${Math.random().toString(36).slice(2)}.log`);
}

/** Tag -> how many times a server ran it, from the log. */
function executions(log: string): Map<string, number> {
  const counts = new Map<string, number>();
  let content = "";
  try {
    content = readFileSync(log, "utf8");
  } catch {
    return counts;
  }
  for (const line of content.split("\n")) {
    const tag = line.split(" ")[0];
    if (tag) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return counts;
}

async function server(name: string, port: number, log: string): Promise<NamedServer> {
  const started = await startNamedServer(name, port, log);
  cleanup.push(() => started.kill());
  return started;
}

function channel(endpoints: string[], options: Parameters<typeof createChannel>[1] = {}): Channel {
  const made = createChannel(endpoints, { reconnect: FAST_RECONNECT, readyTimeout: 8000, ...options });
  cleanup.push(() => made.close({ timeout: 100 }));
  return made;
}

/**
 * Runs `workers` loops of "execute" calls with unique tags until `stop()` says so; returns
 * the tags each call was acknowledged for, and the errors of those that failed.
 */
function traffic(client: Channel, workers: number, stop: () => boolean) {
  const acknowledged: string[] = [];
  const failed: unknown[] = [];
  let next = 0;
  const hardStop = performance.now() + 25_000; // a failed test must not leave loops running
  const loops = Array.from({ length: workers }, async () => {
    while (!stop() && performance.now() < hardStop) {
      const tag = `t${next++}`;
      try {
        await client.request(2, text(tag), { timeout: 8000 });
        acknowledged.push(tag);
      } catch (error) {
        failed.push(error);
      }
    }
  });
  return { acknowledged, failed, done: Promise.all(loops) };
}

describe("a channel when its server dies and comes back", () => {
  test("kill -9 mid-traffic, restart on the same port: acknowledged calls are all in the log, none ran twice, recovery within 1 s", async () => {
    const log = logFile("kill");
    const first = await server("A", 0, log);
    const client = channel([endpointFor(first.port)]);
    let stopped = false;
    const run = traffic(client, 8, () => stopped);
    await until(() => run.acknowledged.length >= 200);
    await first.kill();
    const restart = performance.now();
    const second = await server("B", first.port, log);
    const up = performance.now();
    const before = run.acknowledged.length;
    await until(() => run.acknowledged.length > before, 8000);
    const recovered = performance.now();
    await until(() => run.acknowledged.length >= before + 200, 8000);
    stopped = true;
    await run.done;
    const counts = executions(log);
    for (const tag of run.acknowledged) expect(counts.get(tag)).toBe(1); // nothing acknowledged is lost
    for (const [, n] of counts) expect(n).toBe(1); // nothing ran twice
    // Only calls in flight at the kill may fail: they may or may not have run, so they are not
    // retried. From the client's side that is each worker's call at the kill, and the one it
    // may have sent after it before the loss was read: at most two per worker.
    expect(run.failed.length).toBeLessThanOrEqual(16);
    expect(run.failed.filter((e) => (e as RpcError).code !== "unavailable").map(String)).toEqual([]);
    // From the new server listening to the first call through it: at most one backoff step
    // (200 ms here), a connect and a call. The bound leaves room for a loaded machine.
    expect(recovered - up).toBeLessThan(2000);
    expect(up - restart).toBeGreaterThan(0);
    await second.stop();
  }, 30_000);

  test("graceful restart (goaway, then a new process on the same port): not one call fails", async () => {
    const log = logFile("graceful");
    const first = await server("A", 0, log);
    const client = channel([endpointFor(first.port)]);
    let stopped = false;
    const run = traffic(client, 8, () => stopped);
    await until(() => run.acknowledged.length >= 200);
    const stopping = first.stop();
    const second = server("B", first.port, log).catch(async () => {
      await stopping; // the port is only free once the first has let go of it
      return server("B", first.port, log);
    });
    await stopping;
    const b = await second;
    const before = run.acknowledged.length;
    await until(() => run.acknowledged.length >= before + 200, 8000);
    stopped = true;
    await run.done;
    expect(run.failed.map((e) => String(e))).toEqual([]);
    const counts = executions(log);
    for (const tag of run.acknowledged) expect(counts.get(tag)).toBe(1);
    expect(new Set(counts.values())).toEqual(new Set([1]));
    await b.stop();
  }, 30_000);
});

describe("a channel over three servers", () => {
  test("one killed and one drained: idempotent calls all succeed on what is left, spread by round-robin", async () => {
    const log = logFile("three");
    const servers = await Promise.all(["A", "B", "C"].map((name) => server(name, 0, log)));
    const client = channel(servers.map((s) => endpointFor(s.port)));
    const served = new Map<string, number>();
    const failures: unknown[] = [];
    let stopped = false;
    const hardStop = performance.now() + 25_000;
    const loops = Array.from({ length: 6 }, async () => {
      while (!stopped && performance.now() < hardStop) {
        try {
          const response = await client.request(1, undefined, { idempotent: true, timeout: 8000 });
          const name = str(response.payload);
          served.set(name, (served.get(name) ?? 0) + 1);
        } catch (error) {
          failures.push(error);
        }
      }
    });
    await until(() => (served.get("A") ?? 0) > 50 && (served.get("B") ?? 0) > 50 && (served.get("C") ?? 0) > 50);
    await servers[0].kill();
    await servers[1].stop();
    const afterC = served.get("C")!;
    await until(() => served.get("C")! > afterC + 300, 8000);
    stopped = true;
    await Promise.all(loops);
    expect(failures.map(String)).toEqual([]);
    expect(client.endpoints.find((e) => e.endpoint === endpointFor(servers[2].port))?.state).toBe("ready");
  }, 30_000);

  test("memory stays bounded while every endpoint is down: at most maxWaitingCalls wait, the rest fail at once", async () => {
    const log = logFile("down");
    const gone = await server("A", 0, log);
    await gone.kill();
    const client = channel([endpointFor(gone.port)], { maxWaitingCalls: 100, readyTimeout: 300 });
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 2000 }, () => client.request(1)));
    const elapsed = performance.now() - started;
    const reasons = results.map((r) => (r.status === "rejected" ? (r.reason as RpcError) : null));
    expect(reasons.every((r) => r?.code === "unavailable")).toBe(true);
    const overflow = reasons.filter((r) => /already waiting/.test(r!.message)).length;
    expect(overflow).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(3000); // bounded by readyTimeout, not by the number of calls
    expect(client.state).toBe("connecting"); // never ready yet: still connecting, in backoff
    expect(client.endpoints[0].state).toMatch(/connecting|reconnecting/);
  }, 30_000);
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

process.on?.("exit", () => rmSync(dir, { recursive: true, force: true }));
