/**
 * weft in a real browser: examples/browser/server.ts runs on the runtime under test (one
 * Hono app serving the page, its esbuild bundle and weft on /qrpc), and headless Chromium
 * opens the page, which goes through a unary call, a server stream, a push, and a call
 * from the server to the page. Chromium is driven from a Node child
 * (tests/support/browser_driver.mjs): Playwright does not run on Deno.
 *
 * Needs the system's Chromium at /usr/bin/chromium (`apt-get install -y chromium`; CI's
 * .ci/run installs it). Playwright never downloads a browser here.
 */
import { describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { commandFor, runtime } from "./support/runtime.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium"; // the driver reads the same variable
const SERVER_START_MS = 30_000;
const PAGE_MS = 20_000;
const DRIVER_MS = PAGE_MS + 20_000;

interface ExampleServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the example on the runtime under test, on a free port; resolves with its URL. */
function startExample(): Promise<ExampleServer> {
  const [command, ...args] = commandFor(runtime, "examples/browser/server.ts");
  const child: ChildProcess = spawn(command, args, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PORT: "0", NO_COLOR: "1" },
  });
  let output = "";
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
      child.once("exit", () => {
        clearTimeout(killer);
        done();
      });
      child.kill("SIGTERM"); // the example closes its server and exits
    });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${why}\n--- server output ---\n${output}`));
    };
    const timer = setTimeout(() => fail(`the ${runtime} example server did not start in ${SERVER_START_MS} ms`), SERVER_START_MS);
    child.on("error", (error) => fail(`cannot start ${command}: ${error.message}`));
    child.on("exit", (code, signal) => fail(`the ${runtime} example server exited early (${code ?? signal})`));
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /open (http:\/\/\S+)/.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.stdout!.removeAllListeners("data");
      child.stdout!.on("data", (more) => (output += more));
      resolve({ url: match[1], output: () => output, stop });
    });
  });
}

interface Driven {
  results: {
    done?: boolean;
    unary?: string;
    stream?: string[];
    push?: string;
    serverCall?: { question: string; answer: boolean; result: string };
    error?: string;
  } | null;
  dom?: Record<string, string | null>;
  consoleErrors: string[];
  pageErrors: string[];
  error: string | null;
  ms: { launch?: number; page?: number; total?: number };
}

/** Runs the Node driver against `url`; resolves with its JSON (or an error in the same shape). */
function drive(url: string): Promise<Driven> {
  const child = spawn(process.platform === "win32" ? "node.exe" : "node", ["tests/support/browser_driver.mjs", url, String(PAGE_MS)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), DRIVER_MS); // the driver has its own, shorter watchdog
    const settle = (why: string) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as Driven);
      } catch {
        resolve({ results: null, consoleErrors: [], pageErrors: [], error: `${why}; stdout: ${stdout} stderr: ${stderr}`, ms: {} });
      }
    };
    child.on("error", (error) => settle(`cannot start node: ${error.message}`));
    child.on("close", (code, signal) => settle(`the driver exited with ${code ?? signal}`));
  });
}

/** Waits until `output()` contains `text`, for up to `ms`. */
async function waitForOutput(output: () => string, text: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!output().includes(text)) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

describe("browser", () => {
  test(`Chromium runs the example page against a ${runtime} server: unary, server stream, push, server-to-client call`, async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: this test drives the system's Chromium. Install it with \`apt-get install -y chromium\` (CI's .ci/run does).`);
    }
    const started = Date.now();
    const server = await startExample();
    try {
      const driven = await drive(server.url);
      const context = `\n--- driver ---\n${JSON.stringify(driven, null, 2)}\n--- server output ---\n${server.output()}`;
      expect({ driverError: driven.error, pageError: driven.results?.error ?? null, context }).toEqual({ driverError: null, pageError: null, context });
      const results = driven.results!;
      // (a) a unary call
      expect({ unary: results.unary }).toEqual({ unary: "hello, browser" });
      // (b) a server stream, to its end
      expect({ stream: results.stream }).toEqual({ stream: ["tick 1/3", "tick 2/3", "tick 3/3"] });
      // (c) a push from the server
      expect({ push: results.push }).toEqual({ push: "welcome, browser: this was pushed by the server" });
      // (d) the server called the page, and the page's answer decided the server's reply
      expect({ serverCall: results.serverCall }).toEqual({
        serverCall: { question: "deploy v2 on tuesday?", answer: true, result: "v2 is live" },
      });
      expect(driven.dom?.status).toBe("all four modes worked");
      expect({ pageErrors: driven.pageErrors, consoleErrors: driven.consoleErrors }).toEqual({ pageErrors: [], consoleErrors: [] });
      // ...and the server saw that answer.
      const answered = '[server] the browser answered "deploy v2 on tuesday?": yes';
      expect({ serverSaw: (await waitForOutput(server.output, answered, 2000)) ? answered : server.output() }).toEqual({ serverSaw: answered });
      console.log(
        `  [browser] ${runtime} server + Chromium: ${Date.now() - started} ms ` +
          `(browser launch ${driven.ms.launch} ms, page ${driven.ms.page} ms, driver ${driven.ms.total} ms)`,
      );
    } finally {
      await server.stop();
    }
  }, SERVER_START_MS + DRIVER_MS + 10_000);
});
