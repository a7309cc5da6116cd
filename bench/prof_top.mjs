#!/usr/bin/env node
/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof, bun --cpu-prof, or a CDP Profiler dump):
 * self time per function, hottest first, plus the share spent in weft's own code.
 *
 *   node bench/prof_top.mjs <file.cpuprofile> [top=25] [--inclusive]
 *
 * --inclusive ranks by total time (the function and what it called) instead of self time.
 */
import { readFileSync } from "node:fs";

const inclusive = process.argv.includes("--inclusive");
const [file, topArg] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (!file) {
  console.error("usage: node bench/prof_top.mjs <file.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));

// Self time per node: from samples + timeDeltas when present, else hitCount.
const self = new Map();
if (profile.samples && profile.timeDeltas) {
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, dt));
  }
} else {
  for (const n of profile.nodes) self.set(n.id, (n.hitCount ?? 0) * (profile.samplingInterval ?? 1000));
}

const short = (url) => {
  if (!url) return "";
  const m = /\/work\/main\/(.*)$/.exec(url) ?? /node_modules\/(.*)$/.exec(url);
  return m ? m[1] : url.replace(/^.*\//, "");
};

const byFn = new Map();
let total = 0;
let weft = 0;
let idle = 0;
for (const [id, us] of self) {
  const n = nodes.get(id);
  const cf = n.callFrame;
  const name = cf.functionName || "(anonymous)";
  const where = short(cf.url);
  const key = `${name}  ${where}${where ? `:${cf.lineNumber + 1}` : ""}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
  total += us;
  if (/\/(src|adapters)\/[^/]+\.ts/.test(cf.url) || /\/mod\.ts/.test(cf.url)) weft += us;
  if (name === "(idle)") idle += us;
}
const busy = total - idle;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, idle ${(100 * idle / total).toFixed(1)}%, ` +
  `weft src/+adapters/ self time ${(100 * weft / busy).toFixed(1)}% of busy`);
if (inclusive) {
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n) => {
    const cf = n.callFrame;
    const where = short(cf.url);
    return `${cf.functionName || "(anonymous)"}  ${where}${where ? `:${cf.lineNumber + 1}` : ""}`;
  };
  byFn.clear();
  for (const [id, us] of self) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(keyOf(nodes.get(at)));
    for (const key of seen) byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  for (const key of ["(root)  ", "(idle)  "]) byFn.delete(key);
}
const rows = [...byFn].filter(([key]) => !key.startsWith("(idle)")).sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [key, us] of rows) {
  console.log(`${(100 * us / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
}
