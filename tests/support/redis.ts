/**
 * A real redis-server for a test file: a child process on 127.0.0.1 on a free port, with no
 * persistence (nothing is written to disk, and a restart starts empty, as a cache's Redis
 * does), started before the tests and stopped after. `restart()` stops it and starts another
 * on the same port, for the tests of an outage. scripts/prerequisites.mjs installs Debian's
 * redis-server when it is missing (tests/run.mjs calls it).
 */
import { afterAll, afterEach, beforeAll } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { redisServerPath } from "../../scripts/prerequisites.mjs";
import { freePort } from "./fake_peer.ts";

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Stops the server (SIGTERM, SIGKILL after 3 s); a later start() brings one back on the same port. */
  stop(): Promise<void>;
  /** Starts a server on the same port again after stop(). */
  start(): Promise<void>;
  /** stop(), then start(). */
  restart(): Promise<void>;
}

/** Whether something on `port` answers PING with +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let reply = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.on("error", () => done(false));
  });
}

/** Starts redis-server on a free port (or `port`) and waits until it answers PING (10 s at most). */
export async function startRedis(port?: number): Promise<RedisServer> {
  const chosen = port ?? await freePort();
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    output = "";
    const started = spawn(redisServerPath(), [
      "--port", String(chosen), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    started.stdout!.on("data", (chunk) => (output += chunk));
    started.stderr!.on("data", (chunk) => (output += chunk));
    const until = performance.now() + 10_000;
    while (performance.now() < until) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode}: ${output}`);
      if (await ping(chosen)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    started.kill("SIGKILL");
    throw new Error(`redis-server did not answer PING on ${chosen} in 10 s: ${output}`);
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill("SIGTERM");
    const killer = setTimeout(() => running.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(killer);
  };

  await start();
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

/** What `useRedis()` gives a test file. */
export interface RedisForTests {
  /** The file's server (started before its first test). */
  readonly server: RedisServer;
  /** Steps to run after the current test, last added first; one that fails is ignored. */
  readonly cleanup: (() => Promise<unknown>)[];
}

/**
 * One redis-server for the calling test file, started before its tests and stopped after
 * them, and a list of clean-up steps run after each test.
 */
export function useRedis(): RedisForTests {
  let server: RedisServer | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    server = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });
  return {
    get server(): RedisServer {
      if (server === undefined) throw new Error("redis-server is not started yet (useRedis starts it before the first test)");
      return server;
    },
    cleanup,
  };
}
