/**
 * A cluster with one command: three instances of one service on three runtimes (Bun, Deno,
 * Node), found by their clients through a Redis registry, with emits carried between them on
 * a Redis broker.
 *   npm run example:cluster        (REDIS_URL=redis://... to use your own Redis)
 *
 * It starts a redis-server on a free port unless REDIS_URL is set, starts the instances
 * (instance.ts) as child processes, then plays the clients: a channel on
 * `{ registry, service }` whose calls spread over the instances, and one subscriber per
 * instance that each get an emit made on one of them. Then it shuts everything down.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Channel } from "../../mod.ts";
import { redisRegistry } from "../../adapters/redis.ts";
import { createClient } from "../../src/typed/mod.ts";
import { createChannel, runtime } from "../adapter.ts";
import type { GreeterApi, News } from "./api.ts";
import { findRedisServer, type LocalRedis, startRedis } from "./redis.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const RUNTIMES = ["bun", "deno", "node"] as const;
type Runtime = (typeof RUNTIMES)[number];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The command that runs a .ts file on `name`: the repo's own binary, or one on the PATH; null if neither. */
function commandFor(name: Runtime, script: string): string[] | null {
  if (name === "node") return [runtime === "node" ? process.execPath : "node", "--import", "tsx", script];
  const local = `${root}node_modules/.bin/${name}`;
  const binary = existsSync(local) ? local : spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout?.trim();
  if (!binary) return null;
  return name === "deno" ? [binary, "run", "-A", script] : [binary, script];
}

// ---- Redis: yours (REDIS_URL), or one of our own -----------------------------------------
let local: LocalRedis | undefined;
let url = process.env.REDIS_URL;
if (url === undefined) {
  const binary = findRedisServer();
  if (binary === null) {
    console.error("redis-server was not found. Install it (sudo apt-get install -y redis-server) or set REDIS_URL.");
    process.exit(1);
  }
  local = await startRedis(binary);
  url = local.url;
  console.log(`started redis-server at ${url}`);
} else {
  console.log(`using Redis at ${url}`);
}
// Keys of our own, so a shared Redis never mixes two runs.
const prefix = `weft-example-${Math.random().toString(36).slice(2, 8)}:`;

// ---- Three instances, one per runtime -----------------------------------------------------
const children: ChildProcess[] = [];
function startInstance(on: Runtime): Promise<string> {
  const name = `${on}-1`;
  const command = commandFor(on, "examples/cluster/instance.ts") ?? commandFor(runtime as Runtime, "examples/cluster/instance.ts")!;
  if (commandFor(on, "examples/cluster/instance.ts") === null) console.log(`(${on} is not installed: ${name} runs on ${runtime})`);
  const child = spawn(command[0], [...command.slice(1), url!, prefix, name], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stderr!.on("data", (chunk) => process.stderr.write(chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} was not ready in 20 s: ${output}`)), 20_000);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const ready = /ready on (\S+)/.exec(output);
      if (ready === null) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners("data");
      console.log(`[${name}] listening on ${ready[1]}, registered as greeter/${name}`);
      resolve(name);
    });
  });
}

const channels: Channel[] = [];
const registry = await redisRegistry({ url, prefix });
let failed = false;
try {
  const names = await Promise.all(RUNTIMES.map(startInstance));

  // ---- Clients: discovered through the registry --------------------------------------------
  const channel = createChannel({ registry, service: "greeter" });
  channels.push(channel);
  for (let waited = 0; channel.endpoints.length < names.length && waited < 10_000; waited += 20) await sleep(20);
  console.log(`the channel discovered ${channel.endpoints.length} instances of greeter in the registry`);

  const api = createClient<GreeterApi>(channel);
  const tally = new Map<string, number>();
  for (let i = 1; i <= 6; i++) {
    const reply = await api.hello(`client ${i}`);
    console.log(`call ${i}: ${reply}`);
    const by = reply.slice(reply.lastIndexOf(" ") + 1);
    tally.set(by, (tally.get(by) ?? 0) + 1);
  }
  console.log(`calls spread over ${tally.size} instances: ${[...tally].sort().map(([by, n]) => `${by} ${n}`).join(", ")}`);

  // One subscriber per instance: a channel whose `select` keeps only that instance.
  const heard = new Map<string, News[]>();
  const subscribers = await Promise.all(names.map(async (name) => {
    const only = createChannel({ registry, service: "greeter", select: (i) => (i.id === name ? i.endpoints[0] : undefined) });
    channels.push(only);
    const client = createClient<GreeterApi>(only);
    heard.set(name, []);
    client.news.subscribe((news) => {
      heard.get(name)!.push(news);
      console.log(`[a client of ${name}] news from ${news.from}: ${news.text}`);
    });
    await client.hello("subscriber"); // connected before the emit
    return client;
  }));
  const sent = await subscribers[2].announce("hello, everyone");
  console.log(`node-1 emitted "hello, everyone": at once to its ${sent} connections, and through Redis to the other instances`);
  for (let waited = 0; [...heard.values()].some((got) => got.length < 1) && waited < 10_000; waited += 20) await sleep(20);
  await sleep(100); // and not twice
  const once = [...heard.values()].every((got) => got.length === 1);
  console.log(`every client got it exactly once: ${once}`);
  if (!once || tally.size !== names.length) failed = true;
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  // ---- Shutting down: clients, then instances (they deregister), then our Redis ---------
  for (const channel of channels) await channel.close({ timeout: 500 });
  await Promise.all(children.map((child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
    return exited.then(() => clearTimeout(killer));
  }));
  const left = await registry.list("greeter").catch(() => undefined);
  console.log(`instances stopped; left in the registry: ${left?.length ?? "unknown"}`);
  await registry.close();
  await local?.stop();
  console.log(failed ? "failed" : "done");
  process.exit(failed ? 1 : 0);
}
