/** The demo the README starts with runs, on the runtime under test, and shows every mode. */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { commandFor, runtime } from "./support/runtime.ts";

const root = fileURLToPath(new URL("../", import.meta.url));

function run(script: string, ms = 30_000): Promise<{ code: number | null; output: string }> {
  const [command, ...args] = commandFor(runtime, script);
  const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe("examples", () => {
  test("the demo goes through every mode and exits cleanly", async () => {
    const { code, output } = await run("examples/demo.ts");
    expect(output).toContain(`weft demo on ${runtime}`);
    expect(output).toContain("[client] hello, weft");
    expect(output).toContain("[client] tick 3/3");
    expect(output).toContain("[client] stored 3584 bytes");
    expect(output).toContain("[client] profile 7 for ada, 2000 ms left, avatar of 2 bytes");
    expect(output).toContain("trailer served-by: example-server; compression gzip, CRC-32 true");
    expect(output).toContain("[client] echo: HOW ARE YOU");
    expect(output).toContain("[client] server asks: deploy v2? -> yes");
    expect(output).toContain("[client] deployed v2");
    expect(output).toContain("was cancelled");
    expect(output).toContain("unimplemented: no such cmd: 16962");
    expect(output).toContain("[server] push from a client: client online");
    expect(output).toContain("[server] pushed an announcement to 1 connection(s)");
    expect(output).toContain("[client] push from the server: someone is online");
    expect(output).toContain("done: server closed gracefully");
    expect(code).toBe(0);
  }, 40_000);
});
