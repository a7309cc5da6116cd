/**
 * The rules of docs/ARCHITECTURE.md, checked on the import statements of src/, adapters/, cli/
 * and mod.ts: the core names no runtime, layers point down, nothing but cli/ imports cli/, and
 * nothing imports itself round a cycle (type-only imports count too). Files in src/ stay small
 * enough to read in one sitting.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(ROOT, join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)).split("\\").join("/"));
}

const FILES = [...sources("src"), ...sources("adapters"), ...sources("cli"), "mod.ts"];

/** `import ... from "./x.ts"` and `export ... from "./x.ts"`, with whether the statement is type-only. */
const STATEMENT = /^\s*(import|export)\s+(type\s+)?([\s\S]*?)\s+from\s+["'](\.{1,2}\/[^"']+)["']/gm;

function edgesOf(file: string): Edge[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const edges: Edge[] = [];
  for (const match of text.matchAll(STATEMENT)) {
    const clause = match[3];
    // `import { type A, type B }` is type-only too.
    const names = /^\{([\s\S]*)\}$/.exec(clause.trim())?.[1].split(",").map((n) => n.trim()).filter(Boolean);
    const typeOnly = match[2] !== undefined || (names !== undefined && names.length > 0 && names.every((n) => n.startsWith("type ")));
    edges.push({ from: file, to: normalize(join(dirname(file), match[4])).split("\\").join("/"), typeOnly });
  }
  return edges;
}

const EDGES = FILES.flatMap(edgesOf);

/** Every cycle in the graph of `edges` (as file lists), found by depth-first search. */
function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === "open") found.push([...path.slice(path.indexOf(to)), to]);
      else if (state.get(to) === undefined) visit(to);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of FILES) if (state.get(file) === undefined) visit(file);
  return found;
}

/** What each folder of src/ may import, besides itself (docs/ARCHITECTURE.md). */
const MAY_IMPORT: Record<string, string[]> = {
  common: [],
  wire: ["common"],
  codec: ["common"],
  cluster: ["common"],
  engine: ["cluster", "wire", "common"],
  transports: ["engine", "wire", "common"],
  client: ["engine", "cluster", "wire", "common"],
  typed: ["client", "engine", "cluster", "codec", "wire", "common"],
  metrics: ["typed", "engine", "common"],
  otel: ["typed", "client", "engine", "cluster", "codec", "wire", "common"],
};

const layerOf = (file: string) => /^src\/([^/]+)\//.exec(file)?.[1];

describe("architecture", () => {
  test("every import resolves to a file that exists", () => {
    const known = new Set([...FILES, ...sources("src")]);
    expect(EDGES.filter((edge) => !known.has(edge.to)).map((edge) => `${edge.from} -> ${edge.to}`)).toEqual([]);
  });

  test("src/ names no runtime: no node: imports, no Deno or Bun global", () => {
    const leaks: string[] = [];
    for (const file of FILES.filter((f) => f.startsWith("src/"))) {
      readFileSync(join(ROOT, file), "utf8").split("\n").forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line)) return;
        if (/from\s+["']node:|\bDeno\.|\bBun\.|require\(/.test(line)) leaks.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(leaks).toEqual([]);
  });

  test("layers point down: a folder of src/ imports only the folders under it, and never adapters/", () => {
    const wrong = EDGES.filter(({ from, to }) => {
      const a = layerOf(from);
      if (a === undefined) return false; // adapters/, cli/ and mod.ts may import any of src/
      if (!to.startsWith("src/")) return true;
      const b = layerOf(to)!;
      return a !== b && !MAY_IMPORT[a].includes(b);
    }).map(({ from, to }) => `${from} -> ${to}`);
    expect(wrong).toEqual([]);
  });

  test("nothing in src/ imports metrics/ but metrics/ itself (adapters and mod.ts may)", () => {
    const wrong = EDGES.filter(({ from, to }) => to.startsWith("src/metrics/") && from.startsWith("src/") && !from.startsWith("src/metrics/"))
      .map(({ from, to }) => `${from} -> ${to}`);
    expect(wrong).toEqual([]);
  });

  test("the command line sits on top: nothing outside cli/ imports it", () => {
    const wrong = EDGES.filter(({ from, to }) => to.startsWith("cli/") && !from.startsWith("cli/"))
      .map(({ from, to }) => `${from} -> ${to}`);
    expect(wrong).toEqual([]);
  });

  test("only src/otel/ imports @opentelemetry/api (an optional peer): the root and every other entry load without it", () => {
    const importers = FILES.filter((file) => /from\s+["']@opentelemetry\/|import\(\s*["']@opentelemetry\//.test(readFileSync(join(ROOT, file), "utf8")));
    expect(importers.filter((file) => !file.startsWith("src/otel/"))).toEqual([]);
    expect(importers).toContain("src/otel/mod.ts");
    expect(EDGES.filter(({ from, to }) => !from.startsWith("src/otel/") && to.startsWith("src/otel/")).map(({ from, to }) => `${from} -> ${to}`)).toEqual([]);
  });

  test("no import cycle, type-only imports included", () => {
    expect(cycles(EDGES).map((cycle) => cycle.join(" -> "))).toEqual([]);
  });

  test("the check sees cycles: a made-up back edge is one", () => {
    const backEdge = { from: "src/engine/api.ts", to: "src/engine/connection.ts", typeOnly: true };
    expect(cycles([...EDGES, backEdge]).length).toBeGreaterThan(0);
  });

  test("no file in src/ is over 420 lines", () => {
    const long = FILES.filter((f) => f.startsWith("src/"))
      .map((file) => ({ file, lines: readFileSync(join(ROOT, file), "utf8").split("\n").length }))
      .filter(({ lines }) => lines > 420)
      .map(({ file, lines }) => `${file} (${lines})`);
    expect(long).toEqual([]);
  });
});
