/**
 * `npm run fuzz`: hostile bytes against a live weft server, with a good client alongside.
 *
 * The server is tests/fixtures/server.ts in a child process, on the runtime you name. Several
 * fuzzing connections at a time each send one generated case: valid frames with random flags
 * and cmds, frames with bits flipped, garbage, weft's handshake with random SETTINGS, control
 * frames, oversize lengths, a byte-by-byte drip, or a flood it never reads. Meanwhile a good
 * client makes echo calls on its own connection, and none may fail. Every second it prints a
 * line; at the end: cases run, the server's memory, the good client's calls, and whether the
 * server crashed. Bounded in time (--seconds) and in cases (--cases); exit code 1 on a crash or
 * a failed good call.
 *
 *   npm run fuzz -- --runtime=bun --seconds=60 --seed=7
 *   node --import tsx scripts/fuzz.ts --runtime=deno --connections=8
 */
import * as net from "node:net";
import { readFileSync } from "node:fs";
import { connect } from "../adapters/node.ts";
import { encodeFrame } from "../mod.ts";
import { startChildServer } from "../tests/support/child_server.ts";
import { concat } from "../tests/support/bytes.ts";
import { Random } from "../tests/support/random.ts";
import type { RuntimeName } from "../tests/support/runtime.ts";

const args = Object.fromEntries(process.argv.slice(2).map((arg) => {
  const [key, value] = arg.replace(/^--/, "").split("=");
  return [key, value ?? "true"];
}));
const runtime = (args.runtime ?? "node") as RuntimeName;
const seconds = Number(args.seconds ?? 20);
const maxCases = Number(args.cases ?? 1_000_000);
const connections = Number(args.connections ?? 4);
const seed = Number(args.seed ?? Date.now() % 2 ** 31);
const random = new Random(seed);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const frame = (id: number, flags: number, cmd: number, payload: Uint8Array = new Uint8Array(0)) => encodeFrame({ id, flags, cmd, payload });
const text = (value: string) => new TextEncoder().encode(value);

/** One case: the bytes to send, how to send them, and whether to read what comes back. */
interface Case {
  kind: string;
  chunks: Uint8Array[];
  read: boolean;
  /** Milliseconds between chunks (a drip), 0 for all at once. */
  gapMs: number;
}

function randomFrames(count: number): Uint8Array[] {
  return Array.from({ length: count }, () =>
    frame(random.int(2 ** 16), random.int(256), random.chance(0.7) ? random.int(14) : random.int(2 ** 24), random.bytes(random.int(200))));
}

function handshake(): Uint8Array[] {
  const settings = random.chance(0.7)
    ? { version: 1, heartbeat: random.pick([0, 50, 1000]), maxFrameSize: 1 << 20, metadata: { k: random.text(10) }, window: random.int(1 << 20) }
    : { version: random.int(3), codec: random.text(4), compression: random.pick(["gzip", "zz", null]), metadata: random.text(20) };
  return [frame(3, 0x48, 2, text("hi")), frame(0, 0x80, 2, text(JSON.stringify(settings)))];
}

function nextCase(): Case {
  switch (random.int(8)) {
    case 0:
      return { kind: "frames", chunks: randomFrames(1 + random.int(20)), read: true, gapMs: 0 };
    case 1: {
      const bytes = concat(...randomFrames(1 + random.int(10)));
      for (let i = random.int(6); i >= 0; i--) bytes[random.int(bytes.length)] ^= 1 << random.int(8);
      return { kind: "flipped", chunks: [bytes], read: true, gapMs: 0 };
    }
    case 2:
      return { kind: "garbage", chunks: [random.bytes(random.int(4096))], read: random.chance(0.5), gapMs: 0 };
    case 3:
      return { kind: "handshake+frames", chunks: [...handshake(), ...randomFrames(random.int(20))], read: true, gapMs: 0 };
    case 4: {
      const ops = Array.from({ length: 1 + random.int(30) }, () => frame(random.int(8), 0x80, random.int(10), random.bytes(random.int(80))));
      return { kind: "control", chunks: [...handshake(), ...ops], read: random.chance(0.5), gapMs: 0 };
    }
    case 5: {
      const length = random.pick([0, 5, 11, 0x00a00001, 0xffffffff]);
      const header = new Uint8Array(16);
      new DataView(header.buffer).setUint32(0, length);
      return { kind: "bad length", chunks: [header, random.bytes(random.int(64))], read: true, gapMs: 0 };
    }
    case 6: {
      const bytes = concat(...randomFrames(1 + random.int(3)));
      return { kind: "drip", chunks: Array.from(bytes.subarray(0, 300), (b) => new Uint8Array([b])), read: true, gapMs: 1 };
    }
    default: {
      const echo = frame(3, 0x08, 2, random.bytes(16 * 1024));
      return { kind: "flood, never read", chunks: Array.from({ length: 200 + random.int(400) }, () => echo), read: false, gapMs: 0 };
    }
  }
}

async function runCase(port: number, item: Case): Promise<void> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  socket.on("error", () => {});
  await new Promise<void>((resolve) => {
    socket.once("connect", resolve);
    socket.once("error", () => resolve());
  });
  if (!item.read) socket.pause();
  else socket.on("data", () => {});
  for (const chunk of item.chunks) {
    if (socket.destroyed) break;
    socket.write(chunk);
    if (item.gapMs > 0) await sleep(item.gapMs);
  }
  await sleep(20 + random.int(100));
  socket.destroy();
}

const server = await startChildServer(runtime);
const rssStart = rss(server.pid);
let rssMax = rssStart;
const good = await connect({ port: server.port });
let goodOk = 0;
let goodFailed = 0;
let cases = 0;
const kinds = new Map<string, number>();
let crashed = false;
const deadline = Date.now() + seconds * 1000;
console.log(`fuzzing a ${runtime} server (pid ${server.pid}, port ${server.port}) for ${seconds} s, ${connections} connections at a time, seed ${seed}`);

const goodLoop = (async () => {
  const payload = text("good");
  while (Date.now() < deadline && !crashed) {
    try {
      const reply = await good.request(2, payload, { timeout: 5000 });
      if (reply.payload.length === payload.length) goodOk++;
      else goodFailed++;
    } catch (error) {
      goodFailed++;
      console.log(`good call failed: ${(error as Error).message}`);
      await sleep(100);
    }
  }
})();

const fuzzers = Array.from({ length: connections }, async () => {
  while (Date.now() < deadline && cases < maxCases && !crashed) {
    const item = nextCase();
    kinds.set(item.kind, (kinds.get(item.kind) ?? 0) + 1);
    await runCase(server.port, item);
    cases++;
  }
});

const ticker = setInterval(() => {
  try {
    const now = rss(server.pid);
    rssMax = Math.max(rssMax, now);
    console.log(`  ${cases} cases, server RSS ${now.toFixed(0)} MiB, good calls ${goodOk} ok / ${goodFailed} failed`);
  } catch {
    crashed = true;
    console.log("  the server process is gone");
  }
}, 1000);

await Promise.all([goodLoop, ...fuzzers]);
clearInterval(ticker);
let rssEnd = 0;
try {
  rssEnd = rss(server.pid);
} catch {
  crashed = true;
}
good.destroy();
await server.stop();
console.log(`cases: ${cases} (${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(", ")})`);
console.log(`server RSS: ${rssStart.toFixed(0)} MiB at start, ${rssMax.toFixed(0)} MiB at most, ${rssEnd.toFixed(0)} MiB at the end`);
console.log(`good client: ${goodOk} calls ok, ${goodFailed} failed; server crashed: ${crashed ? "yes" : "no"} (seed ${seed})`);
process.exit(crashed || goodFailed > 0 ? 1 : 0);
