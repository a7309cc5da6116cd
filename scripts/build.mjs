#!/usr/bin/env node
// Builds the npm package into dist/: tsc -p tsconfig.build.json, then points the
// declarations' relative imports at ".js" (tsc rewrites them in the JavaScript only), and
// checks that nothing in dist/ still names a ".ts" file. `npm pack` runs this (prepack).
//
//   node scripts/build.mjs
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DIST = join(ROOT, "dist");

/** `from "./x.ts"`, `import("../y.ts")`, `import "./z.ts"`: a relative specifier ending in .ts. */
const RELATIVE_TS = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']*?)\.ts\2/g;

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

rmSync(DIST, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(ROOT, "tsconfig.build.json")], {
  cwd: ROOT,
  stdio: "inherit",
});
if (tsc.status !== 0) {
  console.error("build: tsc failed");
  process.exit(1);
}

let rewritten = 0;
const leftovers = [];
for (const file of filesUnder(DIST)) {
  if (file.endsWith(".d.ts")) {
    const text = readFileSync(file, "utf8");
    const fixed = text.replace(RELATIVE_TS, (_, keyword, quote, path) => `${keyword}${quote}${path}.js${quote}`);
    if (fixed !== text) {
      writeFileSync(file, fixed);
      rewritten++;
    }
  }
  if (file.endsWith(".js") || file.endsWith(".d.ts")) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(RELATIVE_TS)) leftovers.push(`${relative(ROOT, file)}: ${match[0]}`);
  }
}
if (leftovers.length > 0) {
  console.error(`build: ${leftovers.length} relative ".ts" import(s) left in dist/:\n  ${leftovers.join("\n  ")}`);
  process.exit(1);
}
// The `weft` bin (package.json "bin"): it must start with its shebang and be executable.
const CLI = join(DIST, "cli", "main.js");
const SHEBANG = "#!/usr/bin/env node\n";
const cli = readFileSync(CLI, "utf8");
if (!cli.startsWith(SHEBANG)) writeFileSync(CLI, SHEBANG + cli.replace(/^#!.*\n/, ""));
chmodSync(CLI, 0o755);

console.log(`build: dist/ written (${rewritten} declaration files pointed at .js)`);
