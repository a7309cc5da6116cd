/**
 * weft across instances on Redis: what an emit costs when it crosses to another instance,
 * against a local emit measured in the same run, and how fast a channel on a registry reacts
 * to instances coming and going. Instances are child processes on this runtime
 * (servers/cluster_instance.ts); clients run here. Redis is REDIS_URL, or a redis-server the
 * bench starts on 127.0.0.1 on a free port (and stops).
 *
 *   node bench/run.mjs --bench=cluster [bun deno node] [--json]
 *
 * Emit rows. A publisher instance and a subscriber instance share a broker; one client is
 * connected to each, both subscribed. The publisher emits; its own client gets each event
 * straight from it ("local"), the other gets it through Redis and the subscriber instance
 * ("cross"), so both rows see the same events under the same load.
 *   messages/s   BENCH_MESSAGES (20000) emitted as fast as the publisher can, divided by the
 *                time from the start until the client got the last one.
 *   p50 / p99    delivery latency of BENCH_PACED (3000) events emitted at BENCH_RATE (1000)
 *                per second (not a burst, so queueing is not measured): the client's clock
 *                at arrival minus the publisher's at emit. Both are performance.timeOrigin +
 *                performance.now() in different processes of one machine, which agree to
 *                within a fraction of a ms; the skew is the same in both rows.
 *   lost         events a client never got (expected 0: retention covers the burst).
 * After the table: cross/local for each column.
 *
 * Registry rows, BENCH_CHURN (3) times, with a channel on `{ registry, service }` making
 * `whoami` calls back to back (idempotent, one in flight) over the two instances:
 *   join   a new instance starts: from the moment it starts registering until the channel's
 *          first call reaches it (both in the new instance's clock). Includes the channel
 *          connecting to it.
 *   leave  that instance is killed with SIGKILL: from the kill until the channel's endpoint
 *          list no longer has it. Bounded by its lease (BENCH_TTL_MS, 3000; it renews every
 *          third), so this measures the lease, not Redis.
 *   failed calls of the channel during all that (expected 0: calls retry elsewhere).
 *
 * Env: BENCH_MESSAGES, BENCH_PACED, BENCH_RATE, BENCH_CHURN, BENCH_TTL_MS, REDIS_URL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import type { Channel, Connection, EndpointSource, Registry } from "../mod.ts";
import { redisRegistry } from "../adapters/redis.ts";
import { type Client, createClient } from "../src/typed/mod.ts";
import { findRedisServer, type LocalRedis, startRedis } from "../examples/cluster/redis.ts";
import { loadAdapter } from "./harness/adapters.ts";
import { killChildren, trackChild } from "./harness/children.ts";
import { Histogram } from "./harness/histogram.ts";
import { fmtInt, jsonOutput, log, printJson, render, runtimeLabel, times } from "./harness/output.ts";
import { benchPath, HOST, repoRoot, runtime, runtimeCommand, runtimeVersion } from "./harness/runtime.ts";
import { CHILD_FLAGS, envNumber } from "./harness/settings.ts";
import { type ClusterRoutes, now, type Tick } from "./servers/cluster_routes.ts";

const MESSAGES = Math.floor(envNumber(process.env.BENCH_MESSAGES, 20_000));
const PACED = Math.floor(envNumber(process.env.BENCH_PACED, 3000));
const RATE = envNumber(process.env.BENCH_RATE, 1000);
const CHURN = Math.floor(envNumber(process.env.BENCH_CHURN, 3));
const TTL_MS = envNumber(process.env.BENCH_TTL_MS, 3000);
const SERVICE = "bench";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A bound on the whole run, whatever hangs: the bursts at a pessimistic 500 events/s, the
// paced run, and each churn round's start and lease.
const watchdog = setTimeout(() => {
  console.error("cluster bench: took too long; giving up");
  killChildren();
  process.exit(1);
}, 60_000 + (MESSAGES / 500 + PACED / RATE) * 1000 + CHURN * (15_000 + 2 * TTL_MS));

/** Polls `check` every `everyMs` until it holds or `ms` pass; whether it held. */
async function poll(check: () => boolean, ms: number, everyMs = 2): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

interface Instance {
  readonly port: number;
  readonly endpoint: string;
  kill(): Promise<void>;
}

/** servers/cluster_instance.ts on this runtime, once it prints its port (30 s at most). */
function startInstance(url: string, prefix: string, id: string): Promise<Instance> {
  const { cmd, args } = runtimeCommand(benchPath("servers/cluster_instance.ts"), CHILD_FLAGS);
  const retained = String(Math.max(1000, 2 * MESSAGES));
  const child: ChildProcess = spawn(cmd, [...args, url, prefix, SERVICE, id, String(TTL_MS), retained], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "inherit"],
  });
  trackChild(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${id}: no PORT line in 30 s`)), 30_000);
    child.once("exit", (code) => reject(new Error(`${id} exited early (${code})`)));
    child.stdin!.on("error", () => {});
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = /^PORT (\d+)$/m.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      const port = Number(match[1]);
      resolve({
        port,
        endpoint: `tcp://${HOST}:${port}`,
        kill: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
      });
    });
  });
}

// ---- set-up ---------------------------------------------------------------------------------
let redis: LocalRedis | undefined;
let url = process.env.REDIS_URL;
if (url === undefined) {
  const binary = findRedisServer();
  if (binary === null) {
    console.error("cluster bench: redis-server was not found. Install it (sudo apt-get install -y redis-server) or set REDIS_URL.");
    process.exit(1);
  }
  redis = await startRedis(binary);
  url = redis.url;
}
const prefix = `weft-bench-${Math.random().toString(36).slice(2, 8)}:`;
const adapter = await loadAdapter() as Awaited<ReturnType<typeof loadAdapter>> & {
  createChannel(endpoints: EndpointSource, options?: object): Channel;
};
const opened: { close(): Promise<unknown> }[] = [];

try {
  log(`cluster bench on ${runtimeLabel()}: Redis at ${url}${redis === undefined ? "" : " (started by the bench)"}`);
  const [publisher, subscriber] = await Promise.all([startInstance(url, prefix, "publisher"), startInstance(url, prefix, "subscriber")]);

  // ---- emit: local vs cross, same events ----------------------------------------------------
  interface Receiver {
    readonly mode: "local" | "cross";
    got: number;
    lastAt: number;
    readonly latency: Histogram;
  }
  const receivers: Receiver[] = [];
  const clients: Client<ClusterRoutes>[] = [];
  for (const [mode, port] of [["local", publisher.port], ["cross", subscriber.port]] as const) {
    const connection: Connection = await adapter.connect({ hostname: HOST, port });
    opened.push(connection);
    const client = createClient<ClusterRoutes>(connection);
    const receiver: Receiver = { mode, got: 0, lastAt: 0, latency: new Histogram() };
    client.tick.subscribe((tick: Tick) => {
      const at = now();
      receiver.got++;
      receiver.lastAt = at;
      receiver.latency.add(at - tick.t);
    });
    await client.whoami(); // connected (and subscribed) before anything is emitted
    receivers.push(receiver);
    clients.push(client);
  }
  const emitter = clients[0];
  /** Has the publisher emit `count` at `perSecond` (0: a burst); waits until both clients stop receiving. */
  const round = async (count: number, perSecond: number) => {
    for (const r of receivers) {
      r.got = 0;
      r.latency.reset();
    }
    const start = now();
    await emitter.blast({ count, perSecond });
    // Until both have every event, or nothing arrived for 5 s (the rest is lost).
    let seen = -1;
    while (receivers.some((r) => r.got < count)) {
      const total = receivers.reduce((sum, r) => sum + r.got, 0);
      if (total === seen) break;
      seen = total;
      await poll(() => receivers.every((r) => r.got >= count), 5000);
    }
    return start;
  };
  log(`warm-up, then ${fmtInt(MESSAGES)} events as a burst`);
  await round(Math.min(500, MESSAGES), 0);
  const burstStart = await round(MESSAGES, 0);
  const burst = receivers.map((r) => ({ mode: r.mode, got: r.got, messagesPerSec: r.got / ((r.lastAt - burstStart) / 1000) }));
  log(`${fmtInt(PACED)} events at ${fmtInt(RATE)}/s`);
  await round(PACED, RATE);
  const rows = receivers.map((r, i) => ({
    mode: r.mode,
    messagesPerSec: burst[i].messagesPerSec,
    p50us: r.latency.quantileUs(0.5),
    p99us: r.latency.quantileUs(0.99),
    lost: MESSAGES - burst[i].got + PACED - r.got,
  }));
  const [local, cross] = rows;
  const ratios = {
    messagesPerSec: cross.messagesPerSec / local.messagesPerSec,
    p50: cross.p50us / local.p50us,
    p99: cross.p99us / local.p99us,
  };

  // ---- registry: join and leave as a channel sees them ----------------------------------------
  const registry: Registry = await redisRegistry({ url, prefix, onError: () => {} });
  opened.push(registry);
  const channel = adapter.createChannel({ registry, service: SERVICE }, {
    reconnect: { initialDelay: 20, multiplier: 2, maxDelay: 200, jitter: 0.2 },
  });
  opened.push(channel);
  const api = createClient<ClusterRoutes>(channel);
  let stopCalls = false;
  let calls = 0;
  let failed = 0;
  const driving = (async () => {
    while (!stopCalls) {
      await api.whoami(undefined, { idempotent: true }).then(() => calls++, () => failed++);
    }
  })();
  const endpoints = () => channel.endpoints.map((e) => e.endpoint);
  await poll(() => endpoints().length === 2, 10_000);
  const joins: number[] = [];
  const leaves: number[] = [];
  for (let i = 0; i < CHURN; i++) {
    log(`churn ${i + 1}/${CHURN}: an instance joins, then is killed`);
    const newcomer = await startInstance(url, prefix, `newcomer-${i}`);
    const direct = await adapter.connect({ hostname: HOST, port: newcomer.port });
    const stamps = () => createClient<ClusterRoutes>(direct).stamps();
    let joined = await stamps();
    const deadline = performance.now() + 10_000;
    while (joined.firstCallAt === 0 && performance.now() < deadline) {
      await sleep(5);
      joined = await stamps();
    }
    if (joined.firstCallAt !== 0) joins.push(joined.firstCallAt - joined.registeredAt);
    await direct.close();
    const killedAt = performance.now();
    await newcomer.kill();
    if (await poll(() => !endpoints().includes(newcomer.endpoint), TTL_MS + 10_000)) leaves.push(performance.now() - killedAt);
  }
  stopCalls = true;
  await driving;

  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const median = (xs: number[]) => (xs.length === 0 ? NaN : sorted(xs)[Math.floor((xs.length - 1) / 2)]);
  const registryResult = {
    ttlMs: TTL_MS,
    rounds: CHURN,
    joinMs: joins,
    leaveMs: leaves,
    joinMedianMs: median(joins),
    leaveMedianMs: median(leaves),
    calls,
    failedCalls: failed,
  };

  if (jsonOutput) {
    printJson({ runtime, version: runtimeVersion(), messages: MESSAGES, paced: PACED, rate: RATE, rows, ratios, registry: registryResult });
  } else {
    console.log(`\nemit across instances on Redis vs a local emit, ${runtimeLabel()} (burst of ${fmtInt(MESSAGES)}; latency of ${fmtInt(PACED)} at ${fmtInt(RATE)}/s)`);
    console.log(render(
      ["emit", "messages/s", "p50 us", "p99 us", "lost"],
      rows.map((r) => [r.mode, fmtInt(r.messagesPerSec), r.p50us.toFixed(0), r.p99us.toFixed(0), String(r.lost)]),
      [0],
    ));
    console.log(`cross/local: messages/s ${times(ratios.messagesPerSec)}, p50 ${times(ratios.p50)}, p99 ${times(ratios.p99)}`);
    const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
    console.log(`\nregistry -> channel, lease ${TTL_MS} ms, ${CHURN} round(s):`);
    console.log(`  join  (registering -> first call): ${ms(joins)} ms; median ${registryResult.joinMedianMs.toFixed(0)} ms`);
    console.log(`  leave (SIGKILL -> dropped):       ${ms(leaves)} ms; median ${registryResult.leaveMedianMs.toFixed(0)} ms`);
    console.log(`  the channel's calls meanwhile: ${fmtInt(calls)}, failed ${failed}`);
  }
} finally {
  for (const thing of opened.reverse()) await thing.close().catch(() => {});
  killChildren();
  await redis?.stop();
  clearTimeout(watchdog);
}
// A channel's or registry's stray timer must not keep the bench alive.
process.exit(0);
