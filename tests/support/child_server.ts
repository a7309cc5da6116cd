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

export async function startChildServer(name: RuntimeName, ms = 30_000): Promise<ChildServer> {
  const [command, ...args] = commandFor(name, "tests/fixtures/server.ts");
  const child: ChildProcess = spawn(command, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  const { match } = await ready(child, /port (\d+)/, `${name} server`, ms);
  return {
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
  };
}

/** A child that said it is ready, and what it has written so far (stdout and stderr; it keeps growing). */
export interface ReadyChild {
  readonly match: RegExpExecArray;
  output(): string;
}

/**
 * Waits until `child`'s stdout matches `pattern` (its "ready" line). If it exits first or takes
 * longer than `ms`, it is killed and this rejects, quoting what it wrote; `what` names it there.
 */
export function ready(child: ChildProcess, pattern: RegExp, what: string, ms: number): Promise<ReadyChild> {
  let output = "";
  child.stderr!.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${what} was not ready in ${ms} ms: ${output}`)), ms);
    const onExit = (code: number | null) => fail(new Error(`${what} exited with ${code}: ${output}`));
    function fail(error: Error) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    }
    let match: RegExpExecArray | null = null;
    child.once("exit", onExit);
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      if (match !== null || (match = pattern.exec(output)) === null) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      resolve({ match, output: () => output });
    });
  });
}
