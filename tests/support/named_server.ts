/**
 * A channel fault test's server in a child process (tests/fixtures/channel_server.ts) on the
 * runtime under test: start it on a port, kill -9 it, stop it gracefully, start another on
 * the same port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ready } from "./child_server.ts";
import { commandFor, runtime } from "./runtime.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

export interface NamedServer {
  readonly name: string;
  readonly port: number;
  /** kill -9: no goaway, no FIN from the process (the kernel closes its sockets). */
  kill(): Promise<void>;
  /** SIGTERM: a graceful close (in-flight calls get 2 s), then the process exits. */
  stop(): Promise<void>;
}

export async function startNamedServer(name: string, port: number, log: string, ms = 30_000): Promise<NamedServer> {
  const [command, ...args] = commandFor(runtime, "tests/fixtures/channel_server.ts");
  const child: ChildProcess = spawn(command, [...args, name, String(port), log], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...(globalThis as unknown as { process: { env: Record<string, string> } }).process.env },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = async (how: "SIGKILL" | "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(how);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  const { match } = await ready(child, /port (\d+)/, name, ms);
  return { name, port: Number(match[1]), kill: () => signal("SIGKILL"), stop: () => signal("SIGTERM") };
}
