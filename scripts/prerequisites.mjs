#!/usr/bin/env node
// What the test suite needs beyond `npm ci`, installed when missing:
//
// - workerd, the Workers runtime (tests/workers.test.ts, `npm run example:workers`): its
//   binary package for this platform, from npm, into .cache/workerd. It is not a dependency
//   of the package: every user would download its ~150 MB binary.
// - Chromium (tests/browser.test.ts): the system's, from Debian's packages, when it is
//   missing and this user may install packages (root, or sudo without a password).
//   Otherwise the one line to run is printed.
// - redis-server (tests/broker.test.ts, tests/registry.test.ts): Debian's, the same way. The
//   tests start their own on 127.0.0.1 on a free port (tests/support/redis.ts) and stop it.
//
//   node scripts/prerequisites.mjs            # all of them
//   node scripts/prerequisites.mjs workerd    # one
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** The workerd release the Workers tests and example are written against. */
export const WORKERD_VERSION = "1.20261117.1";
const WORKERD_PREFIX = join(ROOT, ".cache", "workerd");
const WORKERD_PLATFORMS = {
  "linux-x64": "linux-64",
  "linux-arm64": "linux-arm64",
  "darwin-x64": "darwin-64",
  "darwin-arm64": "darwin-arm64",
  "win32-x64": "windows-64",
};

/** The system Chromium the browser test drives (never a downloaded one). */
export const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";

function workerdPackage() {
  const platform = WORKERD_PLATFORMS[`${process.platform}-${process.arch}`];
  return platform === undefined ? null : `@cloudflare/workerd-${platform}`;
}

/** Where the workerd binary is (or will be, once ensureWorkerd() has run). */
export function workerdPath() {
  const pkg = workerdPackage() ?? "@cloudflare/workerd-unsupported";
  return join(WORKERD_PREFIX, "node_modules", ...pkg.split("/"), "bin", process.platform === "win32" ? "workerd.exe" : "workerd");
}

/** Installs workerd from npm if it is missing. Returns null when it is there, else why not. */
export function ensureWorkerd() {
  if (existsSync(workerdPath())) return null;
  const pkg = workerdPackage();
  if (pkg === null) return `workerd has no binary for ${process.platform}-${process.arch}`;
  console.log(`[prerequisites] installing ${pkg}@${WORKERD_VERSION} into .cache/workerd`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["install", "--prefix", WORKERD_PREFIX, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", `${pkg}@${WORKERD_VERSION}`], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (result.status !== 0 || !existsSync(workerdPath())) return `npm install ${pkg}@${WORKERD_VERSION} failed`;
  return null;
}

function run(command, args) {
  return spawnSync(command, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status === 0;
}

/** Installs Debian's chromium if it is missing and may be. Returns null when it is there, else the line to show. */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return null;
  const howTo = `tests/browser.test.ts needs Chromium at ${CHROMIUM}: run \`sudo apt-get install -y chromium\` (Debian/Ubuntu), or set WEFT_CHROMIUM to a Chromium binary`;
  if (CHROMIUM !== "/usr/bin/chromium") return howTo;
  return aptInstall("chromium", CHROMIUM, howTo);
}

/** Installs Debian's openssl (tests/tls.test.ts makes its certificates with it) if it is missing. */
export function ensureOpenssl() {
  if (spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0) return null;
  const howTo = "tests/tls.test.ts makes certificates with openssl: run `sudo apt-get install -y openssl`";
  return aptInstall("openssl", "/usr/bin/openssl", howTo);
}

/** Where the tests find redis-server (WEFT_REDIS_SERVER, else the one on PATH or Debian's). */
export function redisServerPath() {
  if (process.env.WEFT_REDIS_SERVER) return process.env.WEFT_REDIS_SERVER;
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  return found.status === 0 && found.stdout.trim() !== "" ? found.stdout.trim() : "/usr/bin/redis-server";
}

/** Installs Debian's redis-server (the broker and registry tests run one) if it is missing. */
export function ensureRedis() {
  if (spawnSync(redisServerPath(), ["--version"], { stdio: "ignore" }).status === 0) return null;
  const howTo = "tests/broker.test.ts and tests/registry.test.ts run redis-server: run `sudo apt-get install -y redis-server`, or set WEFT_REDIS_SERVER to a redis-server (or valkey-server) binary";
  if (process.env.WEFT_REDIS_SERVER) return howTo;
  return aptInstall("redis-server", "/usr/bin/redis-server", howTo);
}

/** apt-get installs `name` when this is Debian and we may; null once `binary` exists, else `howTo`. */
function aptInstall(name, binary, howTo) {
  if (process.platform !== "linux" || !existsSync("/usr/bin/apt-get")) return howTo;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (!root && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status !== 0) return howTo;
  console.log(`[prerequisites] installing Debian's ${name}`);
  const [cmd, ...pre] = root ? ["apt-get"] : ["sudo", "-n", "apt-get"];
  const ok = run(cmd, [...pre, "update"]) && run(cmd, [...pre, "install", "-y", "--no-install-recommends", name]);
  return ok && existsSync(binary) ? null : `installing ${name} failed; ${howTo}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const wanted = process.argv.slice(2);
  const all = { workerd: ensureWorkerd, chromium: ensureChromium, openssl: ensureOpenssl, redis: ensureRedis };
  let failed = false;
  for (const [name, ensure] of Object.entries(all)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const problem = ensure();
    if (problem !== null) {
      console.error(problem);
      failed = true;
    }
  }
  process.exit(failed ? 1 : 0);
}
