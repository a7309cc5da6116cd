/**
 * Server children, both sides of their contract. The bench starts each server as a child
 * process on its own runtime (`startServer`); the child listens on 127.0.0.1, port 0,
 * prints `PORT <n>` (`announcePort`) and exits when its stdin closes (`exitWithParent`),
 * which happens however the bench dies. So no server outlives its bench, and the bench
 * also kills whatever is left when it exits (belt and braces).
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { benchPath, repoRoot, runtime, runtimeCommand } from "./runtime.ts";
import { CHILD_FLAGS } from "./settings.ts";

export interface ServerChild {
  /** Its file, relative to bench/. */
  readonly name: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Closes the child's stdin (it exits by itself, writing any --cpu-prof), then SIGKILLs it after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now. */
  kill(): void;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAll(): void {
  for (const child of children) {
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

/** Has `child` (a server or any helper process) killed when this process exits. */
export function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Belt and braces: servers also exit on their own when their stdin closes.
    process.on("exit", killAll);
  }
  children.add(child);
}

/** Kills every child still running. Safe to call more than once. */
export function killChildren(): void {
  killAll();
}

/**
 * Starts `bench/<file>` on the current runtime (with BENCH_CHILD_FLAGS) and waits for it to
 * print `PORT <n>`. The child's stdin is a pipe it watches: when this process goes away it
 * exits too.
 */
export function startServer(file: string, timeoutMs = 30_000): Promise<ServerChild> {
  const { cmd, args } = runtimeCommand(benchPath(file), CHILD_FLAGS);
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  trackChild(child);
  const kill = () => {
    children.delete(child);
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  return new Promise<ServerChild>((resolve, reject) => {
    let out = "";
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      kill();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`${file}: no PORT line within ${timeoutMs} ms`)), timeoutMs);
    child.on("error", (error) => fail(error));
    child.on("exit", (code, signal) => fail(new Error(`${file} exited early (code ${code}, signal ${signal})`)));
    child.stdin!.on("error", () => {}); // EPIPE if it died: the exit handler reports it
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      if (settled) return;
      out += text;
      const match = /^PORT (\d+)$/m.exec(out);
      if (match === null) return;
      settled = true;
      clearTimeout(timer);
      const stop = (graceMs = 3000) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            children.delete(child);
            return done();
          }
          const timer = setTimeout(() => {
            kill();
            done();
          }, graceMs);
          child.once("exit", () => {
            clearTimeout(timer);
            children.delete(child);
            done();
          });
          child.stdin!.end();
        });
      resolve({ name: file, port: Number(match[1]), pid: child.pid, stop, kill });
    });
  });
}

// ---- the child's side --------------------------------------------------------------------

/** Announces the listening port to the parent. */
export function announcePort(port: number): void {
  // console.log is synchronous enough on all three runtimes for one short line.
  console.log(`PORT ${port}`);
}

/**
 * Exits when the parent goes away (stdin reaches EOF), and on SIGTERM/SIGINT. Call once,
 * after printing the port.
 */
export function exitWithParent(cleanup?: () => void): void {
  const exit = () => {
    try {
      cleanup?.();
    } finally {
      process.exit(0);
    }
  };
  if (runtime === "deno") {
    (async () => {
      // deno-lint-ignore no-explicit-any
      const reader = (globalThis as any).Deno.stdin.readable.getReader();
      try {
        for (;;) {
          const { done } = await reader.read();
          if (done) break;
        }
      } catch {
        // stdin broke: the parent is gone either way
      }
      exit();
    })();
    return;
  }
  process.stdin.on("end", exit);
  process.stdin.on("error", exit);
  process.stdin.resume();
}
