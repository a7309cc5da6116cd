/**
 * The memory bench's side of servers/weft_memory.ts: starts it on this runtime with garbage
 * collection exposed, and asks it for its memory.
 */
import { spawn } from "node:child_process";
import { trackChild } from "../harness/children.ts";
import { benchPath, repoRoot, runtime, runtimeCommand } from "../harness/runtime.ts";

/** What the server reports after full collections. */
export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  connections: number;
}

export interface MemoryServer {
  tcpPort: number;
  wsUrl: string;
  measure(): Promise<Memory>;
  stop(): Promise<void>;
}

const GC_FLAGS = runtime === "node" ? ["--expose-gc"] : runtime === "deno" ? ["--v8-flags=--expose-gc"] : [];

export function startMemoryServer(timeoutMs = 30_000): Promise<MemoryServer> {
  const { cmd, args } = runtimeCommand(benchPath("servers/weft_memory.ts"), GC_FLAGS);
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  trackChild(child);
  child.stdout!.setEncoding("utf8");
  let out = "";
  const waiting: ((line: string) => void)[] = [];
  child.stdout!.on("data", (text: string) => {
    out += text;
    let nl: number;
    while ((nl = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      waiting.shift()?.(line);
    }
  });
  const nextLine = (what: string, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`weft_memory: no ${what} within ${ms} ms`)), ms);
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  return nextLine("PORT line", timeoutMs).then((line) => {
    const match = /^PORT (\d+) (\S+)$/.exec(line);
    if (match === null) throw new Error(`weft_memory: expected "PORT <tcp port> <ws url>", got ${line}`);
    return {
      tcpPort: Number(match[1]),
      wsUrl: match[2],
      async measure() {
        const reply = nextLine("MEMORY line", 60_000);
        child.stdin!.write("measure\n");
        const line = await reply;
        if (!line.startsWith("MEMORY ")) throw new Error(`weft_memory: expected MEMORY, got ${line}`);
        return JSON.parse(line.slice(7)) as Memory;
      },
      stop: () =>
        new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            done();
          }, 3000);
          child.once("exit", () => {
            clearTimeout(timer);
            done();
          });
          child.stdin!.end();
        }),
    };
  });
}
