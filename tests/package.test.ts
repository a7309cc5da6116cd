/**
 * The package as users get it. Builds and packs @weft/rpc (`npm pack`, which runs the build),
 * serves the tarball from a one-package registry on 127.0.0.1, installs it into fresh
 * projects the way each runtime's users do, and runs tests/fixtures/consumer/ there:
 *
 *   node  plain `.mjs` with no loader, `require()` from `.cjs`, `tsc` (strict) under the
 *         bundler, nodenext and node-types setups, publint and arethetypeswrong on the
 *         tarball, the installed size, and browser bundle sizes from the installed files
 *   bun   `bun install`, then `bun main.mjs`
 *   deno  `npm:` specifiers with no node_modules (Deno's cache), with a node_modules Deno
 *         makes itself, and bare imports through an npm-installed node_modules; every JSR
 *         entry point type-checked on its own, and `deno publish --dry-run`
 *
 * On each runtime, `@weft/rpc/redis` runs with its optional peer `redis` installed beside it
 * (cluster.mjs), against a redis-server started for this file; `@weft/rpc/otel` runs with its
 * optional peer `@opentelemetry/api` (otel.mjs) on Node, Bun and Deno (npm-installed node_modules).
 *
 * Each runtime's pass of the suite runs its own rows. Needs the npm registry (for the
 * package's dependencies), as `npm ci` does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Server } from "../mod.ts";
import { router, serve } from "../src/typed/mod.ts";
import { cliProcedures } from "./fixtures/cli_procedures.ts";
import { type LocalRegistry, serveTarball } from "./support/local_registry.ts";
import { type RedisServer, startRedis } from "./support/redis.ts";
import { runtime } from "./support/runtime.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BIN = join(ROOT, "node_modules", ".bin");
const FIXTURES = join(ROOT, "tests", "fixtures", "consumer");
const MANIFEST = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const SPEC = `${MANIFEST.name}@${MANIFEST.version}`;
const PEERS = MANIFEST.peerDependencies;
/** The optional peer as the consumers install it: the version weft is developed against (Deno takes no `||` range). */
const REDIS = MANIFEST.devDependencies.redis;
/** @weft/rpc/otel's optional peer, as its users install it beside the package. */
const OTEL_API = MANIFEST.devDependencies["@opentelemetry/api"];

/** The user-facing check of one run of otel.mjs: calls go through; a context made active travels as traceparent. */
function expectTraced(result: Record<string, unknown>): void {
  expect(result).toEqual({ noSdk: "none", propagated: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
}

/**
 * What `npm install @weft/rpc` puts on disk, its dependencies and its peer (valibot) included.
 * It was 160 MB while a Workers binary came along; it is about 7 MiB.
 */
const MAX_INSTALLED_BYTES = 10 * 1024 * 1024;
/** Browser bundles (min + gzip), measured from the installed package; bench/bundle.ts measures the same from source. */
const MAX_BUNDLE_GZIP = { core: 21 * 1024, typed: 39 * 1024 }; // core 20.2 KB, typed 38.3 KB with lent payloads (+0.45 KB); 19.2 and 36.3 KB before resumable streams

const INSTALL_TIMEOUT = 240_000;
const RUN_TIMEOUT = 60_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a user's shell would give a command: none of npm's or the test runner's own settings. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^npm_/i.test(key) || key === "NODE_OPTIONS" || key === "INIT_CWD" || key.startsWith("WEFT_")) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to its end (killing it after `timeout` ms), with `stdin` piped in (then closed; none by default). */
function run(cmd: string, args: string[], options: { cwd: string; env?: Record<string, string>; timeout?: number; stdin?: string }): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: userEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.on("error", () => {}); // a child that exits before reading
    child.stdin.end(options.stdin ?? "");
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeout ?? RUN_TIMEOUT} ms]`;
      child.kill("SIGKILL");
    }, options.timeout ?? RUN_TIMEOUT);
    child.on("error", (error) => (stderr += String(error)));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Fails with the command's output when it did not exit 0. */
function ok(ran: Ran, what: string): Ran {
  if (ran.code !== 0) throw new Error(`${what} exited ${ran.code}\n--- stdout\n${ran.stdout.slice(-4000)}\n--- stderr\n${ran.stderr.slice(-4000)}`);
  return ran;
}

/** The consumer's one line of JSON. */
function resultOf(ran: Ran, what: string): Record<string, unknown> {
  ok(ran, what);
  const line = ran.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`${what} printed no JSON line:\n${ran.stdout}\n${ran.stderr}`);
  }
}

/** Bytes of the files under `dir` (what the installed tree weighs, not the disk blocks). */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += bytesUnder(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

let work = "";
let registry: LocalRegistry | undefined;
let redis: RedisServer | undefined;

/** The user-facing check of one run of cluster.mjs: an event through each broker, an instance through the registry. */
function expectClustered(result: Record<string, unknown>): void {
  const delivered = { kind: "event", same: true, text: "hi" };
  expect(result).toEqual({ memory: delivered, redis: delivered, listed: ["one"] });
}

/** A fresh project that reaches @weft through the local registry and everything else through npm's. */
function project(name: string, files: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, ".npmrc"), `@weft:registry=${registry!.url}\n`);
  for (const fixture of readdirSync(FIXTURES)) copyFileSync(join(FIXTURES, fixture), join(dir, fixture));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** What a Node-style project's package.json says: ESM, and the packages it installs. */
function packageJson(dependencies: Record<string, string>): string {
  return JSON.stringify({ name: "weft-consumer", private: true, type: "module", dependencies }, null, 2);
}

/** The user-facing check of one run of main.mjs: both transports did all four things. */
function expectExercised(result: Record<string, unknown>, name: string, websocketClient: string): void {
  const expected = { hello: `hello, ${name}`, counted: [0, 1, 2], refused: "invalid_argument", notice: "pushed" };
  expect(result.runtime).toBe(name);
  expect(result.tcp).toEqual(expected);
  expect(result.websocket).toEqual(expected);
  expect(result.websocketClient).toBe(websocketClient);
  expect(result.codec).toBe('{"ok":true}');
  expect(result.schema).toBe("object");
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "weft-package-"));
  const packed = ok(await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: ROOT, timeout: INSTALL_TIMEOUT }), "npm pack");
  // prepack's build prints before npm's JSON.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as { filename: string }[];
  registry = await serveTarball(join(work, report[0].filename), MANIFEST);
  redis = await startRedis();
}, INSTALL_TIMEOUT);

afterAll(async () => {
  await registry?.close();
  await redis?.stop();
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe.if(runtime === "node")("the package on Node", () => {
  let dir = "";
  beforeAll(async () => {
    dir = project("node", {
      "package.json": packageJson({
        [MANIFEST.name]: MANIFEST.version,
        redis: REDIS, // the optional peer, for cluster.mjs
        "@opentelemetry/api": OTEL_API, // the optional peer, for otel.mjs
        hono: "^4.13.0", // types_hono.ts makes an app of its own
        "@types/node": "^20.0.0",
        typescript: "~5.9.0",
      }),
    });
    ok(await run("npm", ["install", "--no-audit", "--no-fund"], { cwd: dir, timeout: INSTALL_TIMEOUT }), "npm install");
  }, INSTALL_TIMEOUT);

  test("plain Node runs an .mjs program with no loader: typed calls, a stream and an event over TCP and WebSocket", async () => {
    const result = resultOf(await run(process.execPath, ["main.mjs"], { cwd: dir }), "node main.mjs");
    expectExercised(result, "node", "adapters/node_websocket_client.js");
  }, RUN_TIMEOUT);

  test("@weft/rpc/redis with the optional peer installed: a Redis broker and registry, and the memory broker", async () => {
    const ran = await run(process.execPath, ["cluster.mjs"], { cwd: dir, env: { REDIS_URL: redis!.url } });
    expectClustered(resultOf(ran, "node cluster.mjs"));
  }, RUN_TIMEOUT);

  test("@weft/rpc/otel with its optional peer @opentelemetry/api installed (no SDK): calls go through, trace context travels", async () => {
    expectTraced(resultOf(await run(process.execPath, ["otel.mjs"], { cwd: dir }), "node otel.mjs"));
  }, RUN_TIMEOUT);

  test("the weft bin: npx @weft/rpc, npx weft and node_modules/.bin/weft run on plain Node, and dial through the built adapters", async () => {
    for (const name of [MANIFEST.name, "weft"]) {
      const viaNpx = ok(await run("npx", ["--no-install", name, "--help"], { cwd: dir }), `npx ${name} --help`);
      expect(viaNpx.stdout).toContain("Usage: weft COMMAND URL");
      expect(viaNpx.stdout).toContain("Exit codes:");
    }
    const bin = join(dir, "node_modules", ".bin", "weft");
    const help = ok(await run(bin, ["call", "--help"], { cwd: dir }), "weft call --help");
    expect(help.stdout).toContain("Usage: weft call URL");
    // Nothing listens on port 1: the adapters load from dist/ and the failure is exit 3, naming the URL.
    for (const url of ["tcp://127.0.0.1:1", "ws://127.0.0.1:1/qrpc"]) {
      const unreachable = await run(bin, ["list", url], { cwd: dir });
      expect({ code: unreachable.code, named: unreachable.stderr.includes(`cannot reach ${url}`) }).toEqual({ code: 3, named: true });
    }
  }, RUN_TIMEOUT);

  test("the weft bin on Bun and Deno from the same install: bunx --bun weft and deno run list and call a real server over tcp:// and ws://", async () => {
    // `bunx weft` alone honours the bin's `#!/usr/bin/env node` and runs it on Node; --bun runs it on Bun.
    const bun = (args: string[], stdin?: string) => run(join(BIN, "bunx"), ["--bun", "weft", ...args], { cwd: dir, stdin });
    // With a package.json beside it, Deno finds npm:@weft/rpc in node_modules (nothing downloaded).
    const denoEnv = { DENO_DIR: join(work, "deno-cache") };
    const deno = (args: string[], stdin?: string) => run(join(BIN, "deno"), ["run", "-A", `npm:${MANIFEST.name}`, ...args], { cwd: dir, env: denoEnv, stdin });
    const denoFile = (args: string[]) => run(join(BIN, "deno"), ["run", "-A", "node_modules/@weft/rpc/dist/cli/main.js", ...args], { cwd: dir, env: denoEnv });
    const bunPackage = (args: string[]) => run(join(BIN, "bunx"), ["--bun", MANIFEST.name, ...args], { cwd: dir });
    const runtimes = {
      "bunx --bun weft": bun,
      "bunx --bun @weft/rpc": bunPackage,
      "deno run -A npm:@weft/rpc": deno,
      "deno run -A node_modules/@weft/rpc/dist/cli/main.js": denoFile,
    };
    for (const [what, weft] of Object.entries(runtimes)) {
      const help = ok(await weft(["--help"]), `${what} --help`);
      expect(help.stdout).toContain("Usage: weft COMMAND URL");
      expect(help.stdout).toContain("Exit codes:");
    }

    const api = router(cliProcedures);
    const server = new Server();
    serve(api, server, { reflection: true });
    const { listen } = await import("../adapters/node.ts");
    const { listenWebSocket } = await import("../adapters/node_websocket.ts");
    const tcp = await listen(server, { hostname: "127.0.0.1", port: 0 });
    const ws = await listenWebSocket(server, { hostname: "127.0.0.1", port: 0 });
    try {
      const lines = (ran: Ran) => ran.stdout.trim().split("\n");
      for (const [what, weft] of Object.entries({ "bunx --bun weft": bun, "deno run -A npm:@weft/rpc": deno })) {
        for (const url of [`tcp://127.0.0.1:${tcp.port}`, ws.url]) {
          const listed = ok(await weft(["list", url]), `${what} list ${url}`);
          expect(lines(listed).map((line) => line.trim().split(/\s+/).slice(0, 2))).toEqual([["hello", "unary"], ["sum", "clientStream"], ["ticker", "serverStream"]]);
          const called = ok(await weft(["call", url, "hello", '{"name":"ada"}']), `${what} call ${url} hello`);
          expect(lines(called).map((line) => JSON.parse(line))).toEqual(["hello, ada"]);
          const streamed = ok(await weft(["call", url, "ticker", '{"count":3}']), `${what} call ${url} ticker`);
          expect(lines(streamed).map((line) => JSON.parse(line))).toEqual([0, 1, 2]);
          const summed = ok(await weft(["call", url, "sum"], "1\n2\n3\n"), `${what} call ${url} sum`);
          expect(lines(summed).map((line) => JSON.parse(line))).toEqual([6]);
        }
        // Nothing listens on port 1: exit 3, naming the URL.
        for (const url of ["tcp://127.0.0.1:1", "ws://127.0.0.1:1/qrpc"]) {
          const unreachable = await weft(["list", url]);
          expect({ what, url, code: unreachable.code, named: unreachable.stderr.includes(`cannot reach ${url}`) }).toEqual({ what, url, code: 3, named: true });
        }
      }
      // Bun itself ran it, not Node by way of the shebang: Node's refusal over tcp:// says ECONNREFUSED, Bun's adapter's does not.
      expect((await bun(["list", "tcp://127.0.0.1:1"])).stderr).not.toContain("ECONNREFUSED");
    } finally {
      await ws.close();
      await tcp.close();
      await server.close({ timeout: 1000 });
    }
  }, 2 * RUN_TIMEOUT);

  test("require() from CommonJS loads the ESM package (Node 20.19+ and 22.12+)", async () => {
    const result = resultOf(await run(process.execPath, ["require.cjs"], { cwd: dir }), "node require.cjs");
    expect(result).toEqual({ hello: "hello, require" });
  }, RUN_TIMEOUT);

  // Hono's own declarations need the DOM lib (CloseEvent), so types_hono.ts is left out where there is none.
  const setups: Record<string, { options: Record<string, unknown>; files: string[] }> = {
    "bundler resolution, DOM lib, no @types": {
      options: { module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"], types: [] },
      files: ["types.ts", "types_hono.ts"],
    },
    "nodenext, DOM lib, no @types": {
      options: { module: "nodenext", moduleResolution: "nodenext", lib: ["es2022", "dom"], types: [] },
      files: ["types.ts", "types_hono.ts"],
    },
    "nodenext, @types/node, no DOM lib": {
      options: { module: "nodenext", moduleResolution: "nodenext", lib: ["es2022"], types: ["node"] },
      files: ["types.ts"],
    },
  };
  const compilers: Record<string, () => string> = {
    "TypeScript 7": () => join(ROOT, "node_modules", "typescript", "bin", "tsc"),
    "TypeScript 5.9": () => join(dir, "node_modules", "typescript", "bin", "tsc"),
  };
  for (const [setup, { options, files }] of Object.entries(setups)) {
    for (const [compiler, tsc] of Object.entries(compilers)) {
      test(`type-checks a strict consumer: ${setup}, ${compiler}`, async () => {
        const name = `tsconfig.${setup.replace(/[^a-z0-9]+/gi, "-")}.json`;
        const config = {
          compilerOptions: { target: "es2022", strict: true, noEmit: true, skipLibCheck: false, ...options },
          files,
        };
        writeFileSync(join(dir, name), JSON.stringify(config, null, 2));
        const ran = await run(process.execPath, [tsc(), "-p", name], { cwd: dir });
        expect(`${ran.stdout}${ran.stderr}`.trim()).toBe("");
        expect(ran.code).toBe(0);
      }, RUN_TIMEOUT);
    }
  }

  test("the @ts-expect-error lines fire (without them, tsc reports those three errors)", async () => {
    for (const file of ["types.ts", "types_hono.ts"]) {
      const source = readFileSync(join(dir, file), "utf8").replaceAll("// @ts-expect-error", "//");
      writeFileSync(join(dir, file.replace(".ts", "_unguarded.ts")), source);
    }
    writeFileSync(join(dir, "tsconfig.unguarded.json"), JSON.stringify({
      compilerOptions: { target: "es2022", module: "nodenext", strict: true, noEmit: true, lib: ["es2022", "dom"], types: [] },
      files: ["types_unguarded.ts", "types_hono_unguarded.ts"],
    }));
    const ran = await run(process.execPath, [compilers["TypeScript 7"](), "-p", "tsconfig.unguarded.json"], { cwd: dir });
    expect(ran.code).not.toBe(0);
    const errors = ran.stdout.split("\n").filter((line) => line.includes("error TS"));
    expect(errors.length).toBe(3);
  }, RUN_TIMEOUT);

  test("publint and arethetypeswrong (ESM-only profile) find nothing", async () => {
    const tarball = join(work, readdirSync(work).find((file) => file.endsWith(".tgz"))!);
    const publint = ok(await run(join(BIN, "publint"), ["run", tarball, "--strict", "--level", "warning"], { cwd: ROOT }), "publint");
    expect(publint.stdout).not.toMatch(/Warnings:|Errors:/);
    ok(await run(join(BIN, "attw"), [tarball, "--profile", "esm-only"], { cwd: ROOT }), "attw");
  }, RUN_TIMEOUT);

  test("deno.json (JSR) exports the same entry points as package.json (npm)", () => {
    const npm = Object.keys((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: object }).exports);
    const jsr = Object.keys((JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as { exports: object }).exports);
    expect(jsr.sort()).toEqual(npm.filter((name) => name !== "./package.json").sort());
  });

  test(`installs in under ${MAX_INSTALLED_BYTES / 1024 / 1024} MiB with its dependencies and valibot`, async () => {
    const bare = project("bare", { "package.json": packageJson({ [MANIFEST.name]: MANIFEST.version }) });
    ok(await run("npm", ["install", "--no-audit", "--no-fund"], { cwd: bare, timeout: INSTALL_TIMEOUT }), "npm install");
    const installed = readdirSync(join(bare, "node_modules")).filter((name) => !name.startsWith("."));
    expect(installed).toContain("valibot"); // the peer comes along
    expect(installed).toContain("hono"); // the WebSocket listeners need it, on every runtime
    expect(installed).not.toContain("@opentelemetry"); // an optional peer: only @weft/rpc/otel needs it
    const bytes = bytesUnder(join(bare, "node_modules"));
    console.log(`installed: ${(bytes / 1024 / 1024).toFixed(2)} MiB (${installed.join(", ")})`);
    expect(bytes).toBeLessThan(MAX_INSTALLED_BYTES);
  }, INSTALL_TIMEOUT);

  test("browser bundles from the installed package stay small and Node-free", async () => {
    const esbuild = await import("esbuild");
    const bundles = {
      core: `import { connectWebSocket } from "@weft/rpc/websocket";
        const connection = await connectWebSocket({ url: "/qrpc" });
        console.log((await connection.request(1, new Uint8Array([1]))).payload);`,
      typed: `import { connectWebSocket } from "@weft/rpc/websocket";
        import { createClient } from "@weft/rpc/typed";
        const connection = await connectWebSocket({ url: "/qrpc" });
        console.log(await createClient(connection).hello({ name: "browser" }));`,
    };
    try {
      for (const [name, contents] of Object.entries(bundles)) {
        const result = await esbuild.build({
          stdin: { contents, resolveDir: dir, loader: "js", sourcefile: `${name}.mjs` },
          bundle: true,
          platform: "browser",
          format: "esm",
          target: "es2022",
          minify: true,
          write: false,
          metafile: true,
          logLevel: "silent",
        });
        const inputs = Object.keys(result.metafile.inputs);
        expect(inputs.some((path) => path.includes("node_modules/@weft/rpc/dist/src/transports/websocket_client.js"))).toBe(true);
        expect(inputs.filter((path) => path.startsWith("node:") || path.includes("/adapters/") || path.includes("/ws/"))).toEqual([]);
        const gzip = gzipSync(result.outputFiles[0].contents, { level: 9 }).length;
        console.log(`bundle ${name}: ${(gzip / 1024).toFixed(1)} KB min+gzip`);
        expect(gzip).toBeLessThan(MAX_BUNDLE_GZIP[name as keyof typeof MAX_BUNDLE_GZIP]);
      }
    } finally {
      await esbuild.stop();
    }
  }, RUN_TIMEOUT);
});

describe.if(runtime === "bun")("the package on Bun", () => {
  test("bun install, then bun runs the program: typed calls, a stream and an event over TCP and WebSocket", async () => {
    const dir = project("bun", {
      "package.json": packageJson({ [MANIFEST.name]: MANIFEST.version, redis: REDIS, "@opentelemetry/api": OTEL_API }),
    });
    ok(await run(process.execPath, ["install"], { cwd: dir, timeout: INSTALL_TIMEOUT }), "bun install");
    const result = resultOf(await run(process.execPath, ["main.mjs"], { cwd: dir }), "bun main.mjs");
    expectExercised(result, "bun", "src/transports/websocket_client.js");
    expectClustered(resultOf(await run(process.execPath, ["cluster.mjs"], { cwd: dir, env: { REDIS_URL: redis!.url } }), "bun cluster.mjs"));
    expectTraced(resultOf(await run(process.execPath, ["otel.mjs"], { cwd: dir }), "bun otel.mjs"));
  }, INSTALL_TIMEOUT);
});

describe.if(runtime === "deno")("the package on Deno", () => {
  const denoJson = (nodeModulesDir: string) =>
    JSON.stringify({
      nodeModulesDir,
      imports: { [MANIFEST.name]: `npm:${SPEC}`, valibot: `npm:valibot@${PEERS.valibot}`, redis: `npm:redis@${REDIS}` },
    }, null, 2);
  /** One cache for the runs below, none of the user's: every package comes through the registries. */
  const denoDir = () => join(work, "deno-cache");

  for (const [nodeModulesDir, what] of [["none", "npm: specifiers, no node_modules"], ["auto", "npm: specifiers, a node_modules Deno makes"]]) {
    test(`${what}: typed calls, a stream and an event over TCP and WebSocket`, async () => {
      const dir = project(`deno-${nodeModulesDir}`, { "deno.json": denoJson(nodeModulesDir) });
      const ran = await run(process.execPath, ["run", "-A", "main.mjs"], { cwd: dir, env: { DENO_DIR: denoDir() }, timeout: INSTALL_TIMEOUT });
      expectExercised(resultOf(ran, "deno run main.mjs"), "deno", "adapters/deno_websocket_client.js");
      // A project of its own: in Deno's global cache, a program that brings `redis` into a project
      // whose lockfile already resolved @weft/rpc without it fails to find the package's copy.
      const clusterDir = project(`deno-${nodeModulesDir}-cluster`, { "deno.json": denoJson(nodeModulesDir) });
      const clustered = await run(process.execPath, ["run", "-A", "cluster.mjs"], { cwd: clusterDir, env: { DENO_DIR: denoDir(), REDIS_URL: redis!.url }, timeout: INSTALL_TIMEOUT });
      expectClustered(resultOf(clustered, "deno run cluster.mjs"));
    }, INSTALL_TIMEOUT);
  }

  test("bare imports through an npm-installed node_modules", async () => {
    const dir = project("deno-manual", {
      "package.json": packageJson({ [MANIFEST.name]: MANIFEST.version, redis: REDIS, "@opentelemetry/api": OTEL_API }),
      "deno.json": JSON.stringify({ nodeModulesDir: "manual" }),
    });
    ok(await run("npm", ["install", "--no-audit", "--no-fund"], { cwd: dir, timeout: INSTALL_TIMEOUT }), "npm install");
    const ran = await run(process.execPath, ["run", "-A", "main.mjs"], { cwd: dir, env: { DENO_DIR: denoDir() }, timeout: INSTALL_TIMEOUT });
    expectExercised(resultOf(ran, "deno run main.mjs"), "deno", "adapters/deno_websocket_client.js");
    const clustered = await run(process.execPath, ["run", "-A", "cluster.mjs"], { cwd: dir, env: { DENO_DIR: denoDir(), REDIS_URL: redis!.url }, timeout: INSTALL_TIMEOUT });
    expectClustered(resultOf(clustered, "deno run cluster.mjs"));
    const traced = await run(process.execPath, ["run", "-A", "otel.mjs"], { cwd: dir, env: { DENO_DIR: denoDir() }, timeout: INSTALL_TIMEOUT });
    expectTraced(resultOf(traced, "deno run otel.mjs"));
  }, INSTALL_TIMEOUT);

  test("JSR: every entry point in deno.json type-checks on its own", async () => {
    const exports = (JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as { exports: Record<string, string> }).exports;
    const failed: string[] = [];
    for (const [name, file] of Object.entries(exports)) {
      const ran = await run(process.execPath, ["check", file], { cwd: ROOT });
      if (ran.code !== 0) failed.push(`${name} (${file}):\n${ran.stderr.slice(-2000)}`);
    }
    expect(failed).toEqual([]);
  }, INSTALL_TIMEOUT);

  test("JSR: deno publish --dry-run is clean (no slow types, nothing excluded it needs)", async () => {
    const ran = ok(await run(process.execPath, ["publish", "--dry-run", "--allow-dirty"], { cwd: ROOT, timeout: INSTALL_TIMEOUT }), "deno publish --dry-run");
    const output = `${ran.stdout}${ran.stderr}`;
    expect(output).toContain("Success");
    // deno-lint-ignore no-control-regex
    expect(output.replace(/\u001b\[[0-9;]*m/g, "")).not.toMatch(/^\s*(warning|error)\b/im);
  }, INSTALL_TIMEOUT);
});
