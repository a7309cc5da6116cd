/**
 * Where a weft server's memory per idle connection goes, object by object (Node only: it reads
 * V8 heap snapshots). It accepts BENCH_CONNS connections over a transport whose read never
 * resolves (no sockets: only what the engine itself holds), takes a heap snapshot before and
 * after, and prints the bytes and objects per connection by V8 node type and name, largest
 * first; with BENCH_RETAINERS=1 it also names what holds the largest kinds.
 *
 *   node --expose-gc --import ./bench/harness/node_typescript.mjs bench/memory/heap_diff.ts
 *
 * It found the per-connection objects kept in V8's dictionary mode (an object literal with a
 * getter) and the tables made before any use (README: Performance).
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { writeHeapSnapshot } from "node:v8";
import { Server, type Transport } from "../../mod.ts";

const CONNS = Number(process.env.BENCH_CONNS ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run node with --expose-gc");

const NEVER = new Promise<never>(() => {});
const RESOLVED = Promise.resolve();

/**
 * A transport that is open and silent: its read never resolves, its writes go nowhere. A class,
 * so that each costs one small object and no closures: what is left is the engine's.
 */
class SilentTransport implements Transport {
  readonly remoteAddress = "127.0.0.1:1";
  readonly desiredSize = 1;
  readonly ready = RESOLVED;
  get readable(): this {
    return this;
  }
  get writable(): this {
    return this;
  }
  getReader(): this {
    return this;
  }
  getWriter(): this {
    return this;
  }
  read(): Promise<never> {
    return NEVER;
  }
  cancel(): Promise<void> {
    return RESOLVED;
  }
  write(): Promise<void> {
    return RESOLVED;
  }
  close(): Promise<void> {
    return RESOLVED;
  }
  abort(): Promise<void> {
    return RESOLVED;
  }
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Writes a snapshot to a file; both are written before either is read, so this script's own data stays out of them. */
function writeSnapshot(name: string): string {
  gc!();
  return writeHeapSnapshot(join(tmpdir(), `weft-heap-${process.pid}-${name}.heapsnapshot`));
}

function readSnapshot(file: string): Snapshot {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } finally {
    rmSync(file, { force: true });
  }
}

/** "type:name" of each node, and its self size. */
function labelsOf(snap: Snapshot): { labels: string[]; sizes: number[] } {
  const meta = snap.snapshot.meta;
  const width = meta.node_fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => meta.node_fields.indexOf(f));
  const labels: string[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < snap.nodes.length; i += width) {
    labels.push(`${meta.node_types[0][snap.nodes[i + typeAt]]}:${snap.strings[snap.nodes[i + nameAt]].slice(0, 50)}`);
    sizes.push(snap.nodes[i + sizeAt]);
  }
  return { labels, sizes };
}

function totals(snap: Snapshot): Map<string, [count: number, bytes: number]> {
  const { labels, sizes } = labelsOf(snap);
  const out = new Map<string, [number, number]>();
  labels.forEach((label, i) => {
    const entry = out.get(label) ?? [0, 0];
    entry[0]++;
    entry[1] += sizes[i];
    out.set(label, entry);
  });
  return out;
}

/** For each of `kinds`, what holds its nodes ("holder.edge"), with bytes. */
function retainers(snap: Snapshot, kinds: string[]): void {
  const meta = snap.snapshot.meta;
  const width = meta.node_fields.length;
  const edgeWidth = meta.edge_fields.length;
  const countAt = meta.node_fields.indexOf("edge_count");
  const [typeAt, nameAt, toAt] = ["type", "name_or_index", "to_node"].map((f) => meta.edge_fields.indexOf(f));
  const { labels, sizes } = labelsOf(snap);
  const heldBy = new Map<number, string>();
  let edge = 0;
  for (let node = 0; node < labels.length; node++) {
    for (let k = 0; k < snap.nodes[node * width + countAt]; k++, edge += edgeWidth) {
      const type = meta.edge_types[0][snap.edges[edge + typeAt]];
      if (type === "weak") continue;
      const to = snap.edges[edge + toAt] / width;
      const name = type === "element" || type === "hidden" ? `#${snap.edges[edge + nameAt]}` : snap.strings[snap.edges[edge + nameAt]];
      if (!heldBy.has(to)) heldBy.set(to, `${labels[node]}.${name}`);
    }
  }
  for (const kind of kinds) {
    const by = new Map<string, number>();
    labels.forEach((label, i) => {
      if (label === kind) by.set(heldBy.get(i) ?? "?", (by.get(heldBy.get(i) ?? "?") ?? 0) + sizes[i]);
    });
    console.log(`\n${kind}, held by:`);
    for (const [holder, bytes] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 6)) {
      console.log(`  ${(bytes / CONNS).toFixed(0).padStart(6)} B/conn  ${holder}`);
    }
  }
}

const server = new Server();
server.handle(1, (request) => request.payload);
const warm = Array.from({ length: 50 }, () => server.accept(new SilentTransport())); // code compiled, shapes made
const beforeFile = writeSnapshot("before");
const held = Array.from({ length: CONNS }, () => server.accept(new SilentTransport()));
const afterFile = writeSnapshot("after");
const before = totals(readSnapshot(beforeFile));
const afterSnapshot = readSnapshot(afterFile);
const after = totals(afterSnapshot);

const rows: [string, number, number][] = [];
for (const [label, [count, bytes]] of after) {
  const [count0, bytes0] = before.get(label) ?? [0, 0];
  if (bytes > bytes0) rows.push([label, (count - count0) / CONNS, (bytes - bytes0) / CONNS]);
}
rows.sort((a, b) => b[2] - a[2]);
const total = rows.reduce((sum, row) => sum + row[2], 0);
console.log(`heap per idle server connection (${CONNS} connections, no sockets): ${(total / 1024).toFixed(2)} KiB`);
console.log("  B/conn  objects/conn  type:name");
for (const [label, count, bytes] of rows.slice(0, 30)) {
  console.log(`${bytes.toFixed(0).padStart(8)}  ${count.toFixed(2).padStart(12)}  ${label}`);
}
if (process.env.BENCH_RETAINERS === "1") retainers(afterSnapshot, [...rows.slice(0, 5).map((row) => row[0]), ...(process.env.BENCH_KINDS?.split(",") ?? [])]);
if (warm.length + held.length === 0) console.log(); // keeps both alive until here
