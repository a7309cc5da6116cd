/**
 * The raw TCP ceiling's client (the `raw` rows of unary and typed): keeps N 48-byte frames
 * in flight on one raw TCP connection to servers/raw_echo.ts, with this runtime's own socket
 * API. It does the work an RPC client must: it parses the returned byte stream into frames
 * (length field checked, ids matched in order, frames split across reads reassembled),
 * times each one, and answers each batch of completions with one coalesced write of as
 * many new frames.
 */
import { callRunner, type CallRow } from "../harness/calls.ts";
import type { Histogram } from "../harness/histogram.ts";
import type { Runner } from "../harness/interleave.ts";
import { HOST, runtime } from "../harness/runtime.ts";
import { type Client, Tally } from "../harness/tally.ts";
import { withTimeout } from "../harness/watchdog.ts";
import { FRAME_SIZE, LENGTH_FIELD, writeBenchFrame } from "../harness/wire.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Socket-independent engine: parsing, timing, refilling. */
class RawEngine {
  readonly hist: Histogram;
  #inFlight = 1;
  #sendTimes = new Float64Array(1);
  #nextId = 0;
  #expectId = 0;
  #carry = new Uint8Array(FRAME_SIZE);
  #carryLen = 0;
  #active = false;
  #deadline = 0;
  #completed = 0;
  #lastCompletion = 0;
  /** Reads that completed at least one frame: completed / reads is the echo's batching. */
  reads = 0;
  #done: (() => void) | null = null;
  #failed: ((error: Error) => void) | null = null;
  /** Set once the socket failed: every later phase fails at once. */
  error: Error | null = null;

  constructor(hist: Histogram) {
    this.hist = hist;
  }

  /** Starts a phase: returns the first batch to write; `done` settles when it has drained. */
  start(inFlight: number, ms: number, now: number): { batch: Uint8Array; done: Promise<void> } {
    if (this.error !== null) throw this.error;
    this.#inFlight = inFlight;
    this.#sendTimes = new Float64Array(inFlight);
    this.#active = true;
    this.#deadline = now + ms;
    this.#completed = 0;
    this.reads = 0;
    const done = new Promise<void>((resolve, reject) => {
      this.#done = resolve;
      this.#failed = reject;
    });
    return { batch: this.#makeBatch(inFlight, now), done };
  }

  get completed(): number {
    return this.#completed;
  }

  get lastCompletion(): number {
    return this.#lastCompletion;
  }

  fail(error: Error): void {
    this.error ??= error;
    const failed = this.#failed;
    this.#done = this.#failed = null;
    failed?.(error);
  }

  /** Parses a chunk; returns the frames to send in reply (or null). */
  onChunk(chunk: Uint8Array, now: number): Uint8Array | null {
    let completions = 0;
    let offset = 0;
    const end = chunk.length;
    if (this.#carryLen > 0) {
      const need = FRAME_SIZE - this.#carryLen;
      if (end < need) {
        this.#carry.set(chunk, this.#carryLen);
        this.#carryLen += end;
        return null;
      }
      this.#carry.set(chunk.subarray(0, need), this.#carryLen);
      this.#carryLen = 0;
      this.#frame(this.#carry, 0, now);
      completions++;
      offset = need;
    }
    while (end - offset >= FRAME_SIZE) {
      this.#frame(chunk, offset, now);
      completions++;
      offset += FRAME_SIZE;
    }
    if (offset < end) {
      // A partial frame: keep its bytes; it is checked once complete.
      this.#carry.set(chunk.subarray(offset), 0);
      this.#carryLen = end - offset;
    }
    if (completions === 0) return null;
    this.#completed += completions;
    this.reads++;
    this.#lastCompletion = now;
    if (this.#active && now >= this.#deadline) this.#active = false;
    if (this.#active) return this.#makeBatch(completions, now);
    if (this.#nextId === this.#expectId) {
      const done = this.#done;
      this.#done = this.#failed = null;
      done?.();
    }
    return null;
  }

  #frame(bytes: Uint8Array, offset: number, now: number): void {
    const length = ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>>
      0;
    if (length !== LENGTH_FIELD) throw new Error(`raw echo: bad length field ${length}`);
    const id =
      ((bytes[offset + 8] << 24) | (bytes[offset + 9] << 16) | (bytes[offset + 10] << 8) | bytes[offset + 11]) >>> 0;
    if (id !== this.#expectId) throw new Error(`raw echo: expected id ${this.#expectId}, got ${id}`);
    this.#expectId = (id + 1) >>> 0;
    this.hist.add(now - this.#sendTimes[id % this.#inFlight]);
  }

  #makeBatch(count: number, now: number): Uint8Array {
    const batch = new Uint8Array(count * FRAME_SIZE);
    const sendTimes = this.#sendTimes;
    const inFlight = this.#inFlight;
    let id = this.#nextId;
    for (let i = 0; i < count; i++) {
      writeBenchFrame(batch, i * FRAME_SIZE, id);
      sendTimes[id % inFlight] = now;
      id = (id + 1) >>> 0;
    }
    this.#nextId = id;
    return batch;
  }
}

/** One raw connection on this runtime's socket API, keeping `inFlight` frames in flight. */
export abstract class RawEchoClient implements Client {
  readonly tally: Tally;
  readonly engine: RawEngine;
  /** Socket reads that completed frames, over the measured slices: calls / reads is the echo's batching. */
  reads = 0;
  protected abstract send(bytes: Uint8Array): void;
  protected abstract closeSocket(): void;

  constructor(readonly inFlight: number, serverPid: number | undefined) {
    this.tally = new Tally(serverPid);
    this.engine = new RawEngine(this.tally.hist);
  }

  protected onChunk(chunk: Uint8Array): void {
    let reply: Uint8Array | null;
    try {
      reply = this.engine.onChunk(chunk, performance.now());
    } catch (error) {
      this.engine.fail(error as Error);
      this.closeSocket();
      return;
    }
    if (reply !== null) this.send(reply);
  }

  /** Runs `ms` of calls and waits until they have all come back; the CPU metered around it. */
  async run(ms: number): Promise<void> {
    const tally = this.tally;
    tally.cpu.start();
    const start = performance.now();
    const { batch, done } = this.engine.start(this.inFlight, ms, start);
    this.send(batch);
    // Bounded: the phase ends by itself at the deadline; a stalled server fails it.
    await withTimeout(done, ms + 10_000, `raw echo stalled (${this.engine.completed} calls done)`, () => this.closeSocket());
    tally.cpu.stop();
    tally.ops += this.engine.completed;
    tally.seconds += (this.engine.lastCompletion - start) / 1000;
    this.reads += this.engine.reads;
  }

  reset(): void {
    this.tally.reset();
    this.reads = 0;
  }

  close(): Promise<void> {
    this.closeSocket();
    return Promise.resolve();
  }
}

class BunRaw extends RawEchoClient {
  // deno-lint-ignore no-explicit-any
  socket: any = null;
  #tail: Uint8Array | null = null;

  static async open(port: number, inFlight: number, serverPid: number | undefined): Promise<BunRaw> {
    const raw = new BunRaw(inFlight, serverPid);
    raw.socket = await g.Bun.connect({
      hostname: HOST,
      port,
      socket: {
        binaryType: "uint8array",
        data: (_socket: unknown, data: Uint8Array) => raw.onChunk(data),
        drain: () => raw.#drain(),
        close: () => raw.engine.fail(new Error("raw echo: connection closed")),
        end: () => raw.engine.fail(new Error("raw echo: connection ended")),
        error: (_socket: unknown, error: Error) => raw.engine.fail(error),
      },
    });
    raw.socket.setNoDelay(true);
    return raw;
  }

  protected send(bytes: Uint8Array): void {
    if (this.#tail !== null) {
      const joined = new Uint8Array(this.#tail.length + bytes.length);
      joined.set(this.#tail);
      joined.set(bytes, this.#tail.length);
      this.#tail = joined;
      return;
    }
    const written = this.socket.write(bytes, 0, bytes.length);
    if (written >= 0 && written < bytes.length) this.#tail = bytes.subarray(written);
  }

  #drain(): void {
    const tail = this.#tail;
    if (tail === null) return;
    this.#tail = null;
    this.send(tail);
  }

  protected closeSocket(): void {
    this.socket?.terminate();
  }
}

class DenoRaw extends RawEchoClient {
  // deno-lint-ignore no-explicit-any
  conn: any = null;
  #writing = false;
  #pending: Uint8Array[] = [];
  #closed = false;

  static async open(port: number, inFlight: number, serverPid: number | undefined): Promise<DenoRaw> {
    const raw = new DenoRaw(inFlight, serverPid);
    raw.conn = await g.Deno.connect({ hostname: HOST, port, transport: "tcp" });
    raw.conn.setNoDelay(true);
    raw.#readLoop();
    return raw;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n: number | null = await this.conn.read(buf);
        if (n === null) break;
        this.onChunk(buf.subarray(0, n));
      }
      this.engine.fail(new Error("raw echo: connection closed"));
    } catch (error) {
      this.engine.fail(error as Error);
    }
  }

  /** Writes in order, one write at a time; what arrives meanwhile goes out together. */
  protected send(bytes: Uint8Array): void {
    if (this.#writing) {
      this.#pending.push(bytes);
      return;
    }
    this.#writing = true;
    this.#writeAll(bytes);
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      for (;;) {
        let off = 0;
        while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
        const pending = this.#pending;
        if (pending.length === 0) break;
        this.#pending = [];
        if (pending.length === 1) bytes = pending[0];
        else {
          let size = 0;
          for (const p of pending) size += p.length;
          bytes = new Uint8Array(size);
          let at = 0;
          for (const p of pending) {
            bytes.set(p, at);
            at += p.length;
          }
        }
      }
    } catch (error) {
      this.engine.fail(error as Error);
    }
    this.#writing = false;
  }

  protected closeSocket(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn?.close();
    } catch {
      // already closed
    }
  }
}

class NodeRaw extends RawEchoClient {
  // deno-lint-ignore no-explicit-any
  socket: any = null;

  static async open(port: number, inFlight: number, serverPid: number | undefined): Promise<NodeRaw> {
    const net = await import("node:net");
    const raw = new NodeRaw(inFlight, serverPid);
    const socket = net.connect({ host: HOST, port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => raw.onChunk(chunk));
    socket.on("error", (error: Error) => raw.engine.fail(error));
    socket.on("close", () => raw.engine.fail(new Error("raw echo: connection closed")));
    raw.socket = socket;
    return raw;
  }

  protected send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  protected closeSocket(): void {
    this.socket?.destroy();
  }
}

/** The raw row of a call bench (unary.ts, typed.ts): the raw echo at `inFlight`, frames per read reported. */
export async function rawEchoRunner(port: number, inFlight: number, serverPid: number | undefined): Promise<Runner<CallRow>> {
  const client = await openRawEcho(port, inFlight, serverPid);
  return callRunner("raw", inFlight, client, () => ({ framesPerRead: client.tally.ops / client.reads }));
}

/** Connects to the raw echo on `port`, on this runtime's socket API. */
export function openRawEcho(port: number, inFlight: number, serverPid: number | undefined): Promise<RawEchoClient> {
  if (runtime === "bun") return BunRaw.open(port, inFlight, serverPid);
  if (runtime === "deno") return DenoRaw.open(port, inFlight, serverPid);
  return NodeRaw.open(port, inFlight, serverPid);
}
