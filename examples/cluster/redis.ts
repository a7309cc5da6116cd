/**
 * A redis-server for the cluster example when REDIS_URL is not set: started on 127.0.0.1 on a
 * free port, with nothing written to disk, and stopped when the example ends. It installs
 * nothing: without redis-server on the PATH (or WEFT_REDIS_SERVER) it returns null and the
 * example says how to get one.
 */
import { spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";
import process from "node:process";

export interface LocalRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** The redis-server binary, or null when there is none. */
export function findRedisServer(): string | null {
  const wanted = process.env.WEFT_REDIS_SERVER ?? "redis-server";
  const found = spawnSync("sh", ["-c", `command -v "${wanted}"`], { encoding: "utf8" });
  return found.status === 0 && found.stdout.trim() !== "" ? found.stdout.trim() : null;
}

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Whether the server on `port` answers PING. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => done(chunk.toString().startsWith("+PONG")));
    socket.on("error", () => done(false));
  });
}

/** Starts `binary` on a free port and waits until it answers (10 s at most). */
export async function startRedis(binary: string): Promise<LocalRedis> {
  const port = await freePort();
  const child = spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = performance.now() + 10_000;
  while (!(await pong(port))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop };
}
