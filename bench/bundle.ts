/**
 * Browser bundle size: what a page pays for weft. Builds with esbuild for the browser
 * (platform "browser", ESM, es2022), once unminified and once minified, and prints bytes
 * raw, minified, minified + gzip (level 9) and minified + brotli, for:
 *
 *   core     connectWebSocket (src/transports/websocket_client.ts) and one request: the core engine
 *            over a Web-standard WebSocket
 *   typed    the same plus createClient (src/typed/mod.ts) and one typed call
 *   example  the example page, examples/browser/client.ts (typed client, serve() for the
 *            server's calls, valibot schemas), as one file
 *   example-split  the same with code splitting, as examples/browser/server.ts serves it:
 *            the files the page loads at start (entry + static imports), each gzipped on
 *            its own; chunks only imported dynamically are left out (reported apart)
 *
 * Then, from esbuild's metafile, the modules (and packages) that dominate each minified
 * bundle, and two what-ifs that say what two changes in src/ would save (the same
 * entries with a module replaced by a stub; see the notes printed with them).
 * No runtime involved in the result: esbuild does the work.
 *
 *   node --import ./bench/harness/node_typescript.mjs bench/bundle.ts [--json]     (or: node bench/run.mjs --bench=bundle)
 */
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = fileURLToPath(new URL("../", import.meta.url));
const jsonOut = process.argv.includes("--json");

interface Entry {
  name: string;
  what: string;
  build: Pick<esbuild.BuildOptions, "stdin" | "entryPoints" | "plugins">;
  /** Code splitting: measure what the page loads at start. */
  split?: boolean;
  /** For a what-if: what it shows. */
  note?: string;
}

const inline = (name: string, contents: string): Entry["build"] => ({
  stdin: { contents, resolveDir: root, loader: "ts", sourcefile: `${name}.ts` },
});

const CORE = `import { connectWebSocket } from "./src/transports/websocket_client.ts";
const connection = await connectWebSocket({ url: "/qrpc" });
const reply = await connection.request(1, new TextEncoder().encode("hello"));
console.log(new TextDecoder().decode(reply.payload));
await connection.close();`;

const TYPED = `import { connectWebSocket } from "./src/transports/websocket_client.ts";
import { createClient } from "./src/typed/mod.ts";
const connection = await connectWebSocket({ url: "/qrpc" });
const api = createClient<any>(connection);
console.log(await api.hello({ name: "browser" }));
await connection.close();`;

const EXAMPLE = `${root}examples/browser/client.ts`;

/** An esbuild plugin that replaces the module at `path` (from the root) with `contents`. */
function stub(path: string, contents: string): esbuild.Plugin {
  const target = `${root}${path}`;
  return {
    name: `stub ${path}`,
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => (args.path === target ? { contents, loader: "ts" } : undefined));
    },
  };
}

export const ENTRIES: Entry[] = [
  { name: "core", what: "connectWebSocket + request", build: inline("core", CORE) },
  { name: "typed", what: "core + createClient", build: inline("typed", TYPED) },
  { name: "example", what: "examples/browser/client.ts, one file", build: { entryPoints: [EXAMPLE] } },
  { name: "example-split", what: "the same, split; loaded at start", build: { entryPoints: [EXAMPLE] }, split: true },
];

/** What two changes in src/ would save: the same builds with one module stubbed out. */
export const WHAT_IFS: Entry[] = [
  {
    name: "typed-no-msgpackr",
    what: "typed, msgpack.ts stubbed",
    build: { ...inline("typed", TYPED), plugins: [stub("src/codec/msgpack.ts", `export const MSGPACK = "msgpack"; export const msgpack = { name: MSGPACK, encode() { throw 0; }, decode() { throw 0; } };`)] },
    note: "src/typed/wire.ts codecOf() looks codecs up in src/codec/codec.ts's registry, which imports msgpack.ts, so every typed client bundles msgpackr even on a JSON connection",
  },
  {
    name: "example-no-reflection",
    what: "example, json_schema.ts stubbed",
    build: { entryPoints: [EXAMPLE], plugins: [stub("src/typed/json_schema.ts", `export function describe() { return {}; }`)] },
    note: "serve() (src/typed/serve.ts) reaches the reflection procedure by import(\"./json_schema.ts\"); a one-file bundle inlines it and @valibot/to-json-schema although reflection is off by default",
  },
];

const COMMON: esbuild.BuildOptions = {
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  write: false,
  metafile: true,
  logLevel: "silent",
  absWorkingDir: root,
};

interface Row {
  name: string;
  what: string;
  files: number;
  raw: number;
  min: number;
  gzip: number;
  brotli: number;
  modules: { path: string; bytes: number }[];
  packages: { name: string; bytes: number }[];
}

/** "node_modules/msgpackr/pack.js" -> "msgpackr"; "src/typed/client.ts" -> "weft src/typed"; "<stdin>" -> "entry". */
function packageOf(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (match) return match[1];
  if (path.startsWith("src/typed/")) return "weft src/typed";
  if (path.startsWith("src/codec/")) return "weft src/codec";
  if (path.startsWith("src/")) return "weft src (core)";
  if (path.startsWith("examples/")) return "the example's own code";
  return "entry";
}

/** The output files loaded at start: the entry and, transitively, its static imports. */
function loadedAtStart(result: esbuild.BuildResult): esbuild.OutputFile[] {
  const outputs = result.metafile!.outputs;
  const byPath = new Map(result.outputFiles!.map((file) => [file.path, file]));
  const entry = Object.keys(outputs).find((path) => outputs[path].entryPoint !== undefined)!;
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const imported of outputs[path].imports) if (imported.kind === "import-statement" && !imported.external) visit(imported.path);
  };
  visit(entry);
  return [...seen].map((path) => byPath.get(`${root}${path}`) ?? byPath.get(path)!);
}

async function measure(entry: Entry): Promise<Row> {
  const split = entry.split ? { splitting: true, outdir: "out" } : {};
  const plain = await esbuild.build({ ...COMMON, ...entry.build, ...split });
  const min = await esbuild.build({ ...COMMON, ...entry.build, ...split, minify: true });
  const files = entry.split ? loadedAtStart(min) : min.outputFiles!;
  const loaded = new Set(files.map((file) => file.path));
  const sum = (f: (file: esbuild.OutputFile) => number) => files.reduce((n, file) => n + f(file), 0);
  const plainFiles = entry.split ? loadedAtStart(plain) : plain.outputFiles!;
  const outputs = Object.entries(min.metafile!.outputs)
    .filter(([path]) => !entry.split || loaded.has(`${root}${path}`) || loaded.has(path));
  const modules = outputs.flatMap(([, output]) => Object.entries(output.inputs))
    .map(([path, info]) => ({ path, bytes: info.bytesInOutput }))
    .filter((m) => m.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  const byPackage = new Map<string, number>();
  for (const m of modules) byPackage.set(packageOf(m.path), (byPackage.get(packageOf(m.path)) ?? 0) + m.bytes);
  return {
    name: entry.name,
    what: entry.what,
    files: files.length,
    raw: plainFiles.reduce((n, file) => n + file.contents.length, 0),
    min: sum((file) => file.contents.length),
    gzip: sum((file) => gzipSync(file.contents, { level: 9 }).length),
    brotli: sum((file) => brotliCompressSync(file.contents, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length),
    modules,
    packages: [...byPackage].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ")).join("\n");
}

const results: Row[] = [];
const whatIfs: Row[] = [];
try {
  for (const entry of ENTRIES) results.push(await measure(entry));
  for (const entry of WHAT_IFS) whatIfs.push(await measure(entry));
} finally {
  await esbuild.stop();
}

const sizes = (r: Row) => [r.name, r.what, String(r.raw), String(r.min), String(r.gzip), String(r.brotli)];
const HEADER = ["bundle", "what", "raw", "min", "min+gzip", "min+brotli"];

if (jsonOut) {
  const trim = ({ modules, ...row }: Row) => ({ ...row, modules: modules.slice(0, 12) });
  console.log(JSON.stringify({ esbuild: esbuild.version, bundles: results.map(trim), whatIfs: whatIfs.map(trim) }));
} else {
  console.log(`browser bundles (esbuild ${esbuild.version}, platform browser, esm, es2022; bytes; gzip -9, brotli 11, per file)\n`);
  console.log(table([HEADER, ...results.map(sizes)]));
  console.log(`\nwhat-ifs: one module stubbed out, to size a change in src/\n`);
  console.log(table([HEADER, ...whatIfs.map(sizes)]));
  for (const [i, entry] of WHAT_IFS.entries()) {
    const base = results.find((r) => r.name === (entry.name.startsWith("typed") ? "typed" : "example"))!;
    console.log(`  ${entry.name}: saves ${base.min - whatIfs[i].min} B min, ${base.gzip - whatIfs[i].gzip} B min+gzip. ${entry.note}`);
  }
  for (const r of results) {
    console.log(`\n${r.name}: ${kb(r.min)} minified${r.files > 1 ? ` in ${r.files} files` : ""}; by package (minified bytes, before gzip):`);
    for (const p of r.packages) console.log(`  ${String(p.bytes).padStart(7)}  ${(100 * p.bytes / r.min).toFixed(0).padStart(3)}%  ${p.name}`);
    console.log(`  largest modules:`);
    for (const m of r.modules.slice(0, 8)) console.log(`  ${String(m.bytes).padStart(7)}  ${(100 * m.bytes / r.min).toFixed(0).padStart(3)}%  ${m.path}`);
  }
}
