/**
 * The module hooks behind node_typescript.mjs: a `.ts` file outside node_modules loads as
 * an ES module whose types esbuild stripped (no keepNames, no other transform).
 */
import { readFile } from "node:fs/promises";
import { transform } from "esbuild";

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !/\.[cm]?ts$/.test(new URL(url).pathname) || url.includes("/node_modules/")) {
    return nextLoad(url, context);
  }
  const source = await readFile(new URL(url), "utf8");
  const { code } = await transform(source, {
    loader: "ts",
    format: "esm",
    target: `node${process.versions.node}`,
    sourcemap: "inline",
    sourcefile: new URL(url).pathname,
  });
  return { format: "module", source: code, shortCircuit: true };
}
