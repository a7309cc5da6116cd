/** Starts tests/fixtures/server.ts on a chosen runtime in a child process, over real TCP. */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { commandFor, type RuntimeName } from "./runtime.ts";

export interface ChildServer {
  port: number;
  /** The server's process id (for its memory, from /proc). */
  pid: number;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL("../../", import.meta.url));

export function startChildServer(name: RuntimeName, ms = 30_000): Promise<ChildServer> {
  const [command, ...args] = commandFor(name, "tests/fixtures/server.ts");
  const child: ChildProcess = spawn(command, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} server did not start in ${ms} ms: ${output}`)), ms);
    function fail(error: Error) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    }
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => fail(new Error(`${name} server exited with ${code}: ${output}`)));
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /port (\d+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({
        port: Number(match[1]),
        pid: child.pid!,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
            child.once("exit", () => {
              clearTimeout(killer);
              done();
            });
            child.stdin!.end();
          }),
      });
    });
  });
}
