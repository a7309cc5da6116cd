/**
 * Runs examples/workers/worker.ts on workerd, the open-source Workers runtime (its binary
 * package from npm, which scripts/prerequisites.mjs installs into .cache/workerd the first
 * time; no wrangler): bundle it with esbuild, write a workerd config, start `workerd serve`,
 * and resolve once it listens.
 *
 *   const workerd = await startWorkerd();   // workerd.url: http://127.0.0.1:<port>
 *   ...
 *   await workerd.stop();
 *
 * Works from Node, Bun and Deno (it uses node:child_process and esbuild's JS API).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { build, stop as stopEsbuild } from "esbuild";

import { ensureWorkerd, workerdPath } from "../../scripts/prerequisites.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The Workers compatibility date. It changes what the runtime does: from 2026-03-17 a
 * server-side WebSocket delivers binary messages as Blobs (websocket_standard_binary_type),
 * and from 2026-04-07 it answers a peer's Close frame by itself (web_socket_auto_reply_to_close).
 * workerd refuses a date later than its own release (1.20261117.x here).
 */
export const COMPATIBILITY_DATE = "2026-11-17";

export interface WorkerdOptions {
  /** The Worker's entry point; default examples/workers/worker.ts. */
  entry?: string;
  /** Default COMPATIBILITY_DATE. */
  compatibilityDate?: string;
  /** Milliseconds to wait for workerd to listen before giving up (default 15000). */
  startTimeout?: number;
}

export interface RunningWorkerd {
  /** http://127.0.0.1:<port>: the Worker's HTTP routes; weft is on /qrpc (ws://…/qrpc). */
  readonly url: string;
  readonly port: number;
  /** Milliseconds from spawning workerd until it listened (bundling not included). */
  readonly startupMs: number;
  /** What workerd printed so far (the Worker's console output, errors), for diagnostics. */
  output(): string;
  /** Stops workerd (SIGTERM, then SIGKILL after 2 s) and removes the temp dir. */
  stop(): Promise<void>;
}

const MAX_OUTPUT = 64 * 1024;

/** Bundles the Worker, starts workerd on 127.0.0.1 with a port of its choosing, and waits until it listens. */
export async function startWorkerd(options: WorkerdOptions = {}): Promise<RunningWorkerd> {
  const missing = ensureWorkerd();
  if (missing !== null) throw new Error(missing);
  const dir = await mkdtemp(join(tmpdir(), "weft-workerd-"));
  try {
    await build({
      entryPoints: [options.entry ?? join(ROOT, "examples", "workers", "worker.ts")],
      outfile: join(dir, "worker.js"),
      bundle: true,
      format: "esm",
      // workerd is a Web platform, not Node: a `node:` import would fail the build here
      // rather than at run time. The conditions are the ones wrangler resolves with.
      platform: "browser",
      conditions: ["workerd", "worker", "browser"],
      target: "es2022",
      logLevel: "silent",
    });
    await writeFile(join(dir, "config.capnp"), config(options.compatibilityDate ?? COMPATIBILITY_DATE));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    await stopEsbuild(); // its service process would keep Bun (and Deno's sanitizers) waiting
  }
  return launch(dir, options.startTimeout ?? 15_000);
}

/**
 * Port 0: the system picks a free port, and `--control-fd` makes workerd tell it, as one
 * JSON line (`{"event":"listen","socket":"http","port":…}`) on that descriptor once the
 * socket listens. Here the descriptor is stdout, shared with the Worker's console output.
 */
function config(compatibilityDate: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${compatibilityDate}",
);
`;
}

function launch(dir: string, startTimeout: number): Promise<RunningWorkerd> {
  const started = Date.now();
  const child = spawn(workerdPath(), ["serve", "config.capnp", "--control-fd=1"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.on("exit", () => {
      exited = true;
      resolve();
    });
    child.on("error", (error) => {
      output += `${error}\n`;
      exited = true;
      resolve();
    });
  });
  const keep = (chunk: unknown) => {
    output = (output + String(chunk)).slice(-MAX_OUTPUT);
  };
  child.stderr!.on("data", keep);

  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      // workerd drains before it exits, and waits on any WebSocket still open.
      const killer = setTimeout(() => {
        // process.kill, not child.kill: Deno's child.kill sends nothing once it has sent a signal.
        try {
          process.kill(child.pid!, "SIGKILL");
        } catch {
          // gone already
        }
      }, 2000);
      await exit;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  return new Promise<RunningWorkerd>((resolve, reject) => {
    let lines = "";
    let listening = false;
    const fail = async (why: string) => {
      clearTimeout(timer);
      await stop();
      reject(new Error(`workerd ${why}${output ? `:\n${output}` : ""}`));
    };
    const timer = setTimeout(() => void fail(`did not listen within ${startTimeout} ms`), startTimeout);
    void exit.then(() => {
      if (!listening) void fail(`exited before it listened (code ${child.exitCode})`);
    });
    child.stdout!.on("data", (chunk) => {
      if (listening) return keep(chunk);
      lines += String(chunk);
      let newline;
      while (!listening && (newline = lines.indexOf("\n")) !== -1) {
        const line = lines.slice(0, newline);
        lines = lines.slice(newline + 1);
        const port = listenPort(line);
        if (port === null) {
          keep(`${line}\n`);
          continue;
        }
        listening = true;
        clearTimeout(timer);
        keep(lines);
        resolve({
          url: `http://127.0.0.1:${port}`,
          port,
          startupMs: Date.now() - started,
          output: () => output,
          stop,
        });
      }
    });
  });
}

/** The port in a control message for our socket, or null for any other line. */
function listenPort(line: string): number | null {
  try {
    const message = JSON.parse(line);
    return message?.event === "listen" && message.socket === "http" && typeof message.port === "number" ? message.port : null;
  } catch {
    return null;
  }
}
