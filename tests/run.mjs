#!/usr/bin/env node
// Runs the weft conformance suite (tests/**/*.test.ts, written against bun:test)
// on Bun, Deno and Node, one runtime after the other, and sums the results.
//
//   node tests/run.mjs                   # all runtimes, all tests
//   node tests/run.mjs codec stream      # only test files whose path contains "codec" or "stream"
//   WEFT_RUNTIMES=bun,deno node tests/run.mjs
//   WEFT_RUNNER_TIMEOUT_MS=600000 node tests/run.mjs   # per-runtime time limit (default 15 min)
//   WEFT_TRANSPORTS=websocket node tests/run.mjs        # only the WebSocket pass (default tcp,websocket)
//
// Two passes per runtime: every file over TCP, then the conformance files (WEBSOCKET_PASS)
// again with WEFT_TRANSPORT=websocket, where the same tests run over WebSocket.
//
// Each runner's output is streamed to the console and also captured to read its
// counts. The last line printed is always exactly "<N> passed, <N> failed".
// Exit code is 0 only if nothing failed and every runner reported its counts.
//
// Counting (test cases, not describe blocks):
//   bun  - its own summary (" N pass", " N fail"); bun counts only test cases.
//   deno - a JUnit report (--junit-path): Deno reports node:test describe blocks
//          as test steps, so its console summary ("2 passed (5 steps)") counts
//          describes too; leaves of the JUnit tree are the test cases.
//   node - its summary ("# pass N" for TAP, "ℹ pass N" for spec); fail + cancelled
//          count as failed (node reports timed-out tests and tests under a
//          failed before-hook as "cancelled").
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureChromium, ensureOpenssl, ensureRedis, ensureWorkerd } from "../scripts/prerequisites.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TESTS_DIR = join(ROOT, "tests");
const BIN = join(ROOT, "node_modules", ".bin");
const ALL_RUNTIMES = ["bun", "deno", "node"];
const ALL_TRANSPORTS = ["tcp", "websocket"];
/** The conformance files: everything that talks to a server through the adapter or RawSocket. */
const WEBSOCKET_PASS = [
  "bad_input", "flow_control", "hooks", "lend_payloads", "metadata", "modes", "negotiation", "wire.test", "wire_codecs",
  "channel", "channel_faults", "typed_cancel", "typed_contract", "typed_depth", "typed_directions", "typed_errors", "typed_middleware", "typed_shapes", "typed_wire",
].map((name) => `tests/${name}${name.endsWith(".test") ? "" : ".test"}.ts`);
const RUNNER_TIMEOUT_MS = Number(process.env.WEFT_RUNNER_TIMEOUT_MS) || 15 * 60 * 1000;

/** tests/**\/*.test.ts, relative to ROOT with "/" separators, sorted. */
function findTestFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTestFiles(full));
    else if (entry.isFile() && entry.name.endsWith(".test.ts")) out.push(relative(ROOT, full).split(sep).join("/"));
  }
  return out.sort();
}

// deno-lint-ignore no-control-regex
const stripAnsi = (s) => s.replace(/\u001b\[[0-9;?]*[ -\/]*[@-~]/g, "");

/** Last match of `re` (which must have the g and m flags) as a number, or null. */
function lastNumber(text, re) {
  let value = null;
  for (const m of text.matchAll(re)) value = Number(m[1]);
  return value;
}

// ---------------------------------------------------------------------------
// Parsers: each returns { passed, failed, skipped, note? } or null if no counts.

function parseBun(output) {
  const text = stripAnsi(output);
  const passed = lastNumber(text, /^\s*(\d+) pass$/gm);
  const failed = lastNumber(text, /^\s*(\d+) fail$/gm);
  if (passed === null || failed === null) return null;
  const skipped = (lastNumber(text, /^\s*(\d+) skip$/gm) ?? 0) + (lastNumber(text, /^\s*(\d+) todo$/gm) ?? 0);
  return { passed, failed, skipped };
}

function parseNode(output) {
  const text = stripAnsi(output);
  const count = (word) => lastNumber(text, new RegExp(`^(?:#|ℹ) ${word} (\\d+)$`, "gm"));
  const passed = count("pass");
  const failed = count("fail");
  if (passed === null || failed === null) return null;
  const cancelled = count("cancelled") ?? 0;
  const skipped = (count("skipped") ?? 0) + (count("todo") ?? 0);
  return { passed, failed: failed + cancelled, skipped, note: cancelled ? `${cancelled} cancelled counted as failed` : undefined };
}

const unescapeXml = (s) =>
  s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_, name, dec, hex) =>
    dec ? String.fromCodePoint(Number(dec))
    : hex ? String.fromCodePoint(parseInt(hex, 16))
    : { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" }[name]);

/**
 * Deno's JUnit report lists top-level tests and, separately, every node:test
 * step (nested describe or it) named "outer > inner > case". A describe is a
 * step that has children, so test cases are the leaves of that tree. A failed
 * describe whose failure is not just "N test steps failed" (e.g. a failing
 * beforeAll) is counted as a failure too, so nothing is lost.
 */
function parseDenoJunit(xml) {
  const cases = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const name = unescapeXml(/\bname="([^"]*)"/.exec(m[1])?.[1] ?? "");
    const body = m[3] ?? "";
    const failure = /<failure\b[^>]*?message="([^"]*)"/.exec(body);
    cases.push({
      name,
      failed: failure !== null || /<failure\b/.test(body) || /<error\b/.test(body),
      failureMessage: failure ? unescapeXml(failure[1]) : "",
      skipped: /<skipped\b/.test(body),
    });
  }
  if (!/<testsuites\b/.test(xml)) return null;
  const parents = new Set();
  for (const c of cases) {
    const parts = c.name.split(" > ");
    for (let i = 1; i < parts.length; i++) parents.add(parts.slice(0, i).join(" > "));
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const c of cases) {
    const leaf = !parents.has(c.name);
    if (leaf) {
      if (c.failed) failed++;
      else if (c.skipped) skipped++;
      else passed++;
    } else if (c.failed && !/^\d+ test steps? failed/.test(c.failureMessage)) {
      failed++; // e.g. a describe whose beforeAll/afterAll threw
    }
  }
  return { passed, failed, skipped };
}

function parseDenoSummary(output) {
  // "ok | 2 passed (5 steps) | 0 failed (1 step) | 1 ignored (130ms)": steps include describe blocks.
  const text = stripAnsi(output);
  let m = null;
  for (const x of text.matchAll(/^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored(?: \((\d+) steps?\))?)?/gm)) m = x;
  if (!m) return null;
  const n = (i) => Number(m[i] ?? 0);
  return { passed: n(1) + n(2), failed: n(3) + n(4), skipped: n(5) + n(6), note: "from the console summary; describe blocks counted as tests" };
}

// ---------------------------------------------------------------------------
// Process handling

let current = null; // the running child, for Ctrl-C

function killTree(child, signal) {
  try {
    process.kill(-child.pid, signal); // whole process group (detached below)
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Run a command, streaming its output live while keeping a copy. */
function run(cmd, args, env) {
  return new Promise((resolve) => {
    let output = "";
    let timedOut = false;
    let child;
    try {
      child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: process.platform !== "win32" });
    } catch (err) {
      resolve({ code: null, output: String(err), timedOut, error: err });
      return;
    }
    current = child;
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      output += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      output += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      timedOut = true;
      process.stderr.write(`\n[run.mjs] ${cmd} exceeded ${RUNNER_TIMEOUT_MS} ms; killing it\n`);
      killTree(child, "SIGTERM");
      setTimeout(() => killTree(child, "SIGKILL"), 5000).unref();
    }, RUNNER_TIMEOUT_MS);
    child.on("error", (err) => {
      output += String(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current = null;
      resolve({ code: code ?? `${signal ?? "unknown"}`, output, timedOut });
    });
  });
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (current) killTree(current, "SIGKILL");
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------
// Main

const filters = process.argv.slice(2);
const requested = (process.env.WEFT_RUNTIMES ?? ALL_RUNTIMES.join(","))
  .split(",")
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
const unknown = requested.filter((r) => !ALL_RUNTIMES.includes(r));
if (unknown.length || requested.length === 0) {
  console.error(`WEFT_RUNTIMES: unknown runtime(s) ${unknown.join(", ") || "(none given)"}; expected a subset of ${ALL_RUNTIMES.join(",")}`);
  console.log("0 passed, 1 failed");
  process.exit(2);
}

const allFiles = findTestFiles(TESTS_DIR);
const files = filters.length ? allFiles.filter((f) => filters.some((x) => f.includes(x))) : allFiles;
if (files.length === 0) {
  console.error(filters.length ? `No test files under tests/ match: ${filters.join(" ")}` : "No tests/**/*.test.ts files found");
  console.log("0 passed, 1 failed");
  process.exit(1);
}

// What some tests need beyond npm ci, installed now (or named in one line) rather than
// failing those tests one by one later.
const prerequisites = [
  { file: "tests/workers.test.ts", ensure: ensureWorkerd },
  { file: "tests/browser.test.ts", ensure: ensureChromium },
  { file: "tests/tls.test.ts", ensure: ensureOpenssl },
  { file: "tests/cli.test.ts", ensure: ensureOpenssl },
  { file: "tests/broker.test.ts", ensure: ensureRedis },
  { file: "tests/registry.test.ts", ensure: ensureRedis },
  { file: "tests/cluster_emit.test.ts", ensure: ensureRedis },
  { file: "tests/cluster_registration.test.ts", ensure: ensureRedis },
  { file: "tests/cluster_processes.test.ts", ensure: ensureRedis },
  { file: "tests/examples.test.ts", ensure: ensureRedis },
  { file: "tests/bench_smoke.test.ts", ensure: ensureRedis },
  { file: "tests/package.test.ts", ensure: ensureRedis },
];
for (const { file, ensure } of prerequisites) {
  if (!files.includes(file)) continue;
  const problem = ensure();
  if (problem !== null) {
    console.error(problem);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
}

const junitDir = mkdtempSync(join(tmpdir(), "weft-tests-"));
const junitPath = join(junitDir, "deno-junit.xml");

/** Commands per runtime. With every file, bun/deno get the directory, as a developer would type it. */
const runnersFor = (files, all) => ({
  bun: {
    cmd: join(BIN, "bun"),
    args: ["test", ...(all ? ["tests/"] : files.map((f) => `./${f}`))],
    parse: (r) => parseBun(r.output),
  },
  deno: {
    cmd: join(BIN, "deno"),
    args: ["test", "-A", `--junit-path=${junitPath}`, ...(all ? ["tests/"] : files)],
    parse: (r) => {
      if (existsSync(junitPath)) {
        const parsed = parseDenoJunit(readFileSync(junitPath, "utf8"));
        if (parsed) return parsed;
      }
      return parseDenoSummary(r.output);
    },
  },
  node: {
    cmd: process.execPath,
    args: [
      "--import", "tsx",
      "--import", "./tests/shim/node_register.mjs",
      "--test", "--test-concurrency=1", "--test-reporter=spec",
      // A failed test that leaves a socket open must not hold the file open until the runner's kill.
      "--test-force-exit",
      ...files,
    ],
    parse: (r) => parseNode(r.output),
  },
});

const transports = (process.env.WEFT_TRANSPORTS ?? ALL_TRANSPORTS.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
const passes = [];
for (const transport of ALL_TRANSPORTS.filter((t) => transports.includes(t))) {
  const passFiles = transport === "tcp" ? files : files.filter((f) => WEBSOCKET_PASS.includes(f));
  if (passFiles.length === 0) continue;
  const runners = runnersFor(passFiles, transport === "tcp" && filters.length === 0);
  for (const name of ALL_RUNTIMES.filter((r) => requested.includes(r))) passes.push({ name, transport, runner: runners[name] });
}

const results = [];
for (const { name: runtimeName, transport, runner } of passes) {
  const name = transport === "tcp" ? runtimeName : `${runtimeName} over ${transport}`;
  const display = [runtimeName === "node" ? "node" : relative(ROOT, runner.cmd), ...runner.args.map((a) => a.replace(junitDir, "$TMPDIR"))];
  console.log(`\n=== ${name}: ${transport === "tcp" ? "" : `WEFT_TRANSPORT=${transport} `}${display.join(" ")}\n`);
  const started = Date.now();
  let r;
  if (runtimeName !== "node" && !existsSync(runner.cmd)) {
    r = { code: 127, output: "", timedOut: false, missing: true };
    console.error(`[run.mjs] ${runner.cmd} not found (run npm install)`);
  } else {
    rmSync(junitPath, { force: true });
    r = await run(runner.cmd, runner.args, { WEFT_TRANSPORT: transport });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const counts = r.missing ? null : runner.parse(r);
  const notes = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let ok = true;
  if (counts) {
    ({ passed, failed, skipped } = counts);
    if (counts.note) notes.push(counts.note);
  } else {
    ok = false;
    notes.push(r.missing ? "runner not installed" : "no test counts in its output (crashed?); counted as 1 failed");
  }
  if (r.timedOut) {
    ok = false;
    notes.push(`killed after ${RUNNER_TIMEOUT_MS / 1000}s`);
  }
  if (r.code !== 0 && failed === 0) {
    failed = 1; // a crash, a timeout or an error between tests still counts as a failure
    if (counts) notes.push(`exited with code ${r.code} although no test failed; counted as 1 failed`);
  }
  results.push({ name, passed, failed, skipped, ok, notes, seconds, code: r.code });
}

rmSync(junitDir, { recursive: true, force: true });

console.log("\n=== summary");
for (const r of results) {
  const extra = [r.skipped ? `${r.skipped} skipped/todo` : "", typeof r.code === "number" ? `exit ${r.code}` : `killed by ${r.code}`, `${r.seconds}s`, ...r.notes].filter(Boolean).join("; ");
  console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed (${extra})`);
}
const totalPassed = results.reduce((n, r) => n + r.passed, 0);
const totalFailed = results.reduce((n, r) => n + r.failed, 0);
process.exitCode = totalFailed === 0 && results.every((r) => r.ok) ? 0 : 1;
console.log(`${totalPassed} passed, ${totalFailed} failed`);
