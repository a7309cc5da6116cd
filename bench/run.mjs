#!/usr/bin/env node
/**
 * Runs bench/unary.ts on Bun, Deno and Node, one after the other (never at once: they
 * would share the cores), and prints each runtime's table. No shell involved.
 *
 *   node bench/run.mjs                 all three runtimes
 *   node bench/run.mjs bun node        a subset, in that order
 *   node bench/run.mjs --json          one JSON array with every runtime's results
 *   node bench/run.mjs --bench=typed   bench/typed.ts instead (typed procedures vs weft vs raw)
 *   node bench/run.mjs --bench=stream  bench/stream.ts instead (streaming, 1 MiB echo)
 *   node bench/run.mjs --bench=codec   bench/codec.ts instead (payload codecs, no sockets)
 *   node bench/run.mjs --bench=crc32   bench/crc32.ts (also: --bench=compression)
 *   node bench/run.mjs --bench=bundle  bench/bundle.ts: browser bundle sizes (esbuild; runs once, on Node)
 *   node bench/run.mjs --bench=websocket  bench/websocket.ts (weft over WebSocket vs raw WS echo vs capnweb)
 *   node bench/run.mjs --bench=channel    bench/channel.ts (a Channel's cost per call vs a bare Connection; round-robin x3)
 *   node bench/run.mjs --bench=cluster    bench/cluster.ts (emit across instances on Redis vs a local emit; registry -> channel reaction)
 *
 * Every BENCH_* variable passes through (see bench/unary.ts, bench/typed.ts, bench/stream.ts,
 * bench/codec.ts, bench/websocket.ts).
 * Exits non-zero if any runtime's bench failed (the others still run).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => {
  const local = join(root, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
};

const BENCHES = ["unary", "typed", "stream", "codec", "crc32", "compression", "websocket", "channel", "cluster", "memory", "bundle"];
const args = process.argv.slice(2);
const benchArg = args.find((a) => a.startsWith("--bench="));
const bench = benchArg === undefined ? "unary" : benchArg.slice("--bench=".length);
if (!BENCHES.includes(bench)) {
  console.error(`unknown bench "${bench}": expected ${BENCHES.join(" or ")}`);
  process.exit(2);
}
const script = `bench/${bench}.ts`;

function nodeLoader() {
  if (process.env.BENCH_NODE_LOADER === "tsx") return "tsx";
  return new URL("./harness/node_typescript.mjs", import.meta.url).href;
}

const RUNTIMES = {
  bun: () => [bin("bun"), [script]],
  deno: () => [bin("deno"), ["run", "-A", script]],
  // Not tsx: see bench/harness/node_typescript.mjs (BENCH_NODE_LOADER=tsx for the old way).
  node: () => [process.execPath, ["--import", nodeLoader(), script]],
};

const json = args.includes("--json");
const chosen = args.filter((a) => !a.startsWith("--"));
for (const name of chosen) {
  if (!(name in RUNTIMES)) {
    console.error(`unknown runtime "${name}": expected bun, deno or node`);
    process.exit(2);
  }
}
// Bundle sizes come from esbuild, not from the runtime: one run is enough.
const names = chosen.length > 0 ? chosen : bench === "bundle" ? ["node"] : ["bun", "deno", "node"];

/** Runs one runtime's bench; resolves with its exit code and (with --json) its stdout. */
function runOne(name) {
  const [cmd, cmdArgs] = RUNTIMES[name]();
  return new Promise((resolve) => {
    const child = spawn(cmd, json ? [...cmdArgs, "--json"] : cmdArgs, {
      cwd: root,
      stdio: ["ignore", json ? "pipe" : "inherit", "inherit"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let out = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (text) => (out += text));
    // If we are interrupted, take the bench (and through its stdin-watch, its servers) down.
    const stop = () => child.kill("SIGTERM");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    child.on("error", (error) => {
      console.error(`${name}: cannot start ${cmd}: ${error.message}`);
      resolve({ code: 127, out });
    });
    child.on("close", (code, signal) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve({ code: code ?? (signal ? 128 : 1), out });
    });
  });
}

const results = [];
let failed = 0;
for (const name of names) {
  if (!json) console.log(`\n=== ${name} ===`);
  const { code, out } = await runOne(name);
  if (code !== 0) {
    failed++;
    console.error(`${name}: bench exited with code ${code}`);
    if (json) results.push({ runtime: name, error: `exit code ${code}` });
    continue;
  }
  if (json) {
    try {
      results.push(JSON.parse(out.trim().split("\n").pop()));
    } catch {
      failed++;
      results.push({ runtime: name, error: "unparseable output", output: out });
    }
  }
}
if (json) console.log(JSON.stringify(results, null, 2));
process.exit(failed === 0 ? 0 : 1);
