/**
 * A cluster for real: a redis-server, three weft instances in their own processes (one on Bun,
 * one on Deno, one on Node; tests/fixtures/cluster_instance.ts), and clients in this process
 * on the runtime under test that find them through the Redis registry with
 * `createChannel({ registry, service })`. Each test starts its own instances under a key
 * prefix of its own, and proves one thing the README's "Running more than one instance"
 * promises: instances are listed and calls spread over them; an emit reaches every client of
 * every instance once, in order per publisher; an instance killed with SIGKILL leaves within
 * its lease while idempotent calls fail over, and a newcomer gets traffic; Redis restarted
 * mid-traffic leaves every instance serving its own clients, and cross-instance emits come
 * back with it.
 */
import { describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Channel, type Registry } from "../mod.ts";
import { redisRegistry } from "../adapters/redis.ts";
import { type Client, createClient } from "../src/typed/mod.ts";
import type { ClusterApi, Notice } from "./fixtures/cluster_api.ts";
import { until } from "./support/bytes.ts";
import { createChannel, FAST_RECONNECT } from "./support/channel.ts";
import { uniquePrefix } from "./support/cluster.ts";
import { ready } from "./support/child_server.ts";
import { useRedis } from "./support/redis.ts";
import { commandFor, type RuntimeName } from "./support/runtime.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const SERVICE = "clustered";
const TTL_MS = 1500;
const RUNTIMES: RuntimeName[] = ["bun", "deno", "node"];

const redis = useRedis();
const cleanup = redis.cleanup;

interface Instance {
  readonly id: string;
  readonly endpoint: string;
  /** Everything it printed, for a failure's message. */
  output(): string;
  /** SIGKILL: no deregistering, no goodbye to its clients. */
  kill(): Promise<void>;
}

/** tests/fixtures/cluster_instance.ts on `runtime`, once it prints `ready` (20 s at most). */
async function startInstance(runtime: RuntimeName, prefix: string, id: string): Promise<Instance> {
  const [command, ...args] = commandFor(runtime, "tests/fixtures/cluster_instance.ts");
  const child: ChildProcess = spawn(command, [...args, redis.server.url, prefix, SERVICE, id, String(TTL_MS)], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const kill = async () => {
    if (!gone()) child.kill("SIGKILL");
    await exited;
  };
  cleanup.push(async () => {
    if (!gone()) child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(killer);
  });
  const { match, output } = await ready(child, /^ready (\S+)$/m, `${id} (${runtime})`, 20_000);
  return { id, endpoint: match[1], output, kill };
}

interface Cluster {
  readonly prefix: string;
  readonly registry: Registry;
  readonly instances: Instance[];
  /** A channel over every listed instance, and its typed client. */
  readonly channel: Channel;
  readonly api: Client<ClusterApi>;
}

/** Redis registry handle for this process, closed after the test. */
async function registryFor(prefix: string): Promise<Registry> {
  const registry = await redisRegistry({ url: redis.server.url, prefix, onError: () => {} });
  cleanup.push(() => registry.close());
  return registry;
}

/** Three instances, one per runtime, and a channel that follows them through the registry. */
async function startCluster(): Promise<Cluster> {
  const prefix = uniquePrefix();
  const registry = await registryFor(prefix);
  const instances = await Promise.all(RUNTIMES.map((runtime) => startInstance(runtime, prefix, `${runtime}-1`)));
  const channel = createChannel({ registry, service: SERVICE }, { reconnect: FAST_RECONNECT, readyTimeout: 5000 });
  cleanup.push(() => channel.close({ timeout: 100 }));
  await endpointsUntil(channel, (endpoints) => endpoints.length === 3);
  return { prefix, registry, instances, channel, api: createClient<ClusterApi>(channel) };
}

/** The channel's endpoints once `until` holds of them (10 s at most), sorted. */
async function endpointsUntil(channel: Channel, until: (endpoints: string[]) => boolean, ms = 10_000): Promise<string[]> {
  const deadline = performance.now() + ms;
  const now = () => channel.endpoints.map((e) => e.endpoint).sort();
  while (!until(now()) && performance.now() < deadline) await sleep(20);
  return now();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The ids listed for the service, sorted. */
async function listed(registry: Registry): Promise<string[]> {
  return (await registry.list(SERVICE)).map((instance) => instance.id).sort();
}

/** Which instances answered `count` calls on `api`, by id. */
async function spread(api: Client<ClusterApi>, count: number): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const id = await api.whoami(undefined, { idempotent: true });
    served.set(id, (served.get(id) ?? 0) + 1);
  }
  return served;
}

interface Subscriber {
  /** The instance it is connected to. */
  readonly id: string;
  readonly api: Client<ClusterApi>;
  readonly got: Notice[];
}

/**
 * A client of one instance only: a channel on the registry whose `select` keeps just that
 * instance (a channel over all three would hear each emit from each of them), subscribed to
 * `notice`, and connected (its first call answered) before this returns.
 */
async function subscriber(cluster: Cluster, id: string): Promise<Subscriber> {
  const channel = createChannel(
    { registry: cluster.registry, service: SERVICE, select: (instance) => (instance.id === id ? instance.endpoints[0] : undefined) },
    { reconnect: FAST_RECONNECT, readyTimeout: 5000, eager: true },
  );
  cleanup.push(() => channel.close({ timeout: 100 }));
  const api = createClient<ClusterApi>(channel);
  const got: Notice[] = [];
  api.notice.subscribe((notice) => got.push(notice));
  expect(await api.whoami()).toBe(id);
  return { id, api, got };
}

/** Two subscribers per instance of `cluster`. */
async function subscribers(cluster: Cluster): Promise<Subscriber[]> {
  const all: Subscriber[] = [];
  for (const instance of cluster.instances) all.push(await subscriber(cluster, instance.id), await subscriber(cluster, instance.id));
  return all;
}

/** The numbers of `from`'s notices under `tag`, in the order `got` received them. */
function run(got: Notice[], from: string, tag: string): number[] {
  return got.filter((notice) => notice.from === from && notice.tag === tag).map((notice) => notice.n);
}

const upTo = (count: number) => Array.from({ length: count }, (_, n) => n);

describe("a cluster of processes on Redis: Bun, Deno and Node instances", () => {
  test("the registry lists all three, and a channel's calls spread over all three", async () => {
    const cluster = await startCluster();
    expect(await listed(cluster.registry)).toEqual(["bun-1", "deno-1", "node-1"]);
    expect(await endpointsUntil(cluster.channel, () => true)).toEqual(cluster.instances.map((i) => i.endpoint).sort());
    const served = await spread(cluster.api, 30);
    expect([...served.keys()].sort()).toEqual(["bun-1", "deno-1", "node-1"]);
    for (const count of served.values()) expect(count).toBeGreaterThan(0);
  }, 30_000);

  test("an emit from one instance reaches every client of every instance once, in order per publisher", async () => {
    const cluster = await startCluster();
    const everyone = await subscribers(cluster);
    const [bun, deno] = [everyone[0], everyone[2]];
    // Two publishers at once, 50 each, their runs interleaving on the way.
    const [toBun, toDeno] = await Promise.all([bun.api.burst({ tag: "b", count: 50 }), deno.api.burst({ tag: "b", count: 50 })]);
    expect([toBun, toDeno]).toEqual([2, 2]); // each emit went to its own instance's two clients at once
    await until(() => everyone.every((s) => s.got.length >= 100), 10_000, "every client to get 100 notices");
    await sleep(200); // and no more than that
    for (const s of everyone) {
      expect(s.got.length).toBe(100);
      expect(run(s.got, "bun-1", "b")).toEqual(upTo(50));
      expect(run(s.got, "deno-1", "b")).toEqual(upTo(50));
    }
  }, 30_000);

  test("an instance killed with SIGKILL leaves within its lease while idempotent calls fail over, and a newcomer gets traffic", async () => {
    const cluster = await startCluster();
    await spread(cluster.api, 6); // connected to all three
    const victim = cluster.instances[2]; // node-1
    let failures = 0;
    let calls = 0;
    let stop = false;
    // Traffic all along: three calls at a time, each idempotent, so the channel retries it elsewhere.
    const traffic = (async () => {
      while (!stop && calls < 5000) {
        const results = await Promise.allSettled([0, 1, 2].map(() => cluster.api.whoami(undefined, { idempotent: true })));
        calls += results.length;
        failures += results.filter((r) => r.status === "rejected").length;
        await sleep(5);
      }
    })();
    const killed = performance.now();
    await victim.kill();
    let gone = Infinity;
    while (performance.now() - killed < TTL_MS + 5000) {
      if (!(await listed(cluster.registry)).includes(victim.id)) {
        gone = performance.now() - killed;
        break;
      }
      await sleep(25);
    }
    // Its last renewal was at most a third of a lease before the kill; the slack is for a loaded machine.
    expect(gone).toBeLessThan(TTL_MS + 1000);
    const left = cluster.instances.filter((i) => i !== victim).map((i) => i.endpoint).sort();
    expect(await endpointsUntil(cluster.channel, (e) => e.length === 2)).toEqual(left);
    await sleep(200);
    stop = true;
    await traffic;
    expect(calls).toBeGreaterThan(0);
    expect(failures).toBe(0);

    const late = await startInstance("bun", cluster.prefix, "late-1");
    expect(await endpointsUntil(cluster.channel, (e) => e.length === 3)).toContain(late.endpoint);
    const served = await spread(cluster.api, 30);
    expect(served.get("late-1")).toBeGreaterThan(0);
    expect(served.has(victim.id)).toBe(false);
  }, 30_000);

  test("Redis stopped mid-traffic: every instance serves its clients and local emits go on; cross-instance emits come back with it", async () => {
    const cluster = await startCluster();
    const everyone = await subscribers(cluster);
    const [bun, deno] = [everyone[0], everyone[2]];
    await bun.api.burst({ tag: "before", count: 5 });
    await until(() => everyone.every((s) => run(s.got, "bun-1", "before").length === 5), 10_000, "the first run everywhere");

    await redis.server.stop();
    try {
      // Down: each instance answers its own clients, and an emit still reaches its own clients.
      for (const s of everyone) expect(await s.api.whoami()).toBe(s.id);
      expect(await deno.api.burst({ tag: "down", count: 5 })).toBe(2);
      const denos = everyone.filter((s) => s.id === "deno-1");
      await until(() => denos.every((s) => run(s.got, "deno-1", "down").length === 5), 5000, "the local run");
      for (const s of denos) expect(run(s.got, "deno-1", "down")).toEqual(upTo(5));
      const served = await spread(cluster.api, 9);
      expect([...served.keys()].sort()).toEqual(["bun-1", "deno-1", "node-1"]); // the channel kept its endpoints
    } finally {
      await redis.server.start();
    }

    // Back: the instances re-register by their next renewal, and their subscriptions resume.
    const deadline = performance.now() + 10_000;
    while ((await listed(cluster.registry).catch(() => [])).length < 3 && performance.now() < deadline) await sleep(100);
    expect(await listed(cluster.registry)).toEqual(["bun-1", "deno-1", "node-1"]);
    // Probe until a Bun emit reaches the Deno instance's clients again (its subscription reconnects with a backoff).
    for (let probe = 0; probe < 50; probe++) {
      await bun.api.burst({ tag: `probe-${probe}`, count: 1 });
      await sleep(200);
      if (everyone.every((s) => s.got.some((n) => n.tag === `probe-${probe}`))) break;
    }
    await bun.api.burst({ tag: "after", count: 20 });
    await until(() => everyone.every((s) => run(s.got, "bun-1", "after").length >= 20), 10_000, "the run after the restart everywhere");
    await sleep(200);
    for (const s of everyone) expect(run(s.got, "bun-1", "after")).toEqual(upTo(20));
    // Nothing published while Redis was down reached another instance: it is lost, as the README says.
    for (const s of everyone.filter((s) => s.id !== "deno-1")) expect(run(s.got, "deno-1", "down")).toEqual([]);
  }, 30_000);
});
