/**
 * The raw streaming ceiling's client (stream's `raw-stream` rows): `concurrency` streams on
 * one raw TCP connection to servers/raw_stream.ts. It parses every frame, checks it belongs
 * to an open stream, and counts it. Each stream asks for `length` messages; a slice starts
 * streams one after another on each lane and ends with its last stream (read to its end),
 * or, with `cancel`, stops at the slice's end by resetting what is still open and waits for
 * the end frames the server answers the resets with (that wait goes to the tally's cancelMs).
 */
import { type Client, Tally } from "../harness/tally.ts";
import { withTimeout } from "../harness/watchdog.ts";
import {
  FLAG_END,
  FLAG_RST,
  HEADER_SIZE,
  PAYLOAD_SIZE,
  RESET_CANCELLED,
  STREAM_CMD,
  u32,
  writeHeader,
} from "../harness/wire.ts";
import { FrameScanner } from "./frame_scanner.ts";
import { openRawSocket, type RawSocket } from "./raw_socket.ts";

export interface RawStreamOptions {
  /** Messages each stream asks for. */
  length: number;
  /** Stop streams with a reset at the slice's end instead of reading each to its end. */
  cancel: boolean;
  /** How long a slice may overrun before it counts as stalled. */
  slackMs: number;
}

export class RawStreamClient implements Client {
  readonly tally: Tally;
  readonly #options: RawStreamOptions;
  #socket!: RawSocket;
  #scanner: FrameScanner;
  #open = new Set<number>();
  #nextId = 1;
  #measuring = false;
  #deadline = 0;
  #count = 0;
  #stoppedAt = 0;
  #done: (() => void) | null = null;
  #failed: ((error: Error) => void) | null = null;
  #error: Error | null = null;

  private constructor(readonly concurrency: number, serverPid: number | undefined, options: RawStreamOptions) {
    this.tally = new Tally(serverPid);
    this.#options = options;
    this.#scanner = new FrameScanner((id, flags, _cmd, payloadLength) => this.#frame(id, flags, payloadLength));
  }

  static async open(
    port: number,
    concurrency: number,
    serverPid: number | undefined,
    options: RawStreamOptions,
  ): Promise<RawStreamClient> {
    const client = new RawStreamClient(concurrency, serverPid, options);
    client.#socket = await openRawSocket(port, {
      onChunk: (chunk) => client.#chunk(chunk),
      onError: (error) => client.#fail(error),
    });
    return client;
  }

  #chunk(chunk: Uint8Array): void {
    try {
      this.#scanner.scan(chunk);
    } catch (error) {
      this.#fail(error as Error);
      this.#socket.close();
      return;
    }
    if (this.#options.cancel && this.#measuring) {
      const now = performance.now();
      if (now >= this.#deadline) this.#stopMeasuring(now);
    }
  }

  #frame(id: number, flags: number, payloadLength: number): void {
    if (!this.#open.has(id)) throw new Error(`raw stream: frame for unknown stream ${id}`);
    if ((flags & FLAG_END) !== 0) {
      this.#open.delete(id);
      if (!this.#measuring) {
        if (this.#open.size === 0) this.#finish();
        return;
      }
      if (this.#options.cancel) return this.#startStream();
      // Read to the end: a new stream while the slice lasts, else stop with the last one.
      const now = performance.now();
      if (now < this.#deadline) this.#startStream();
      else if (this.#open.size === 0) this.#stopMeasuring(now);
      return;
    }
    if (payloadLength !== PAYLOAD_SIZE) throw new Error(`raw stream: ${payloadLength}-byte payload`);
    if (this.#measuring) this.#count++;
  }

  #startStream(): void {
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 2) >>> 0;
    this.#open.add(id);
    const request = new Uint8Array(HEADER_SIZE + 4);
    writeHeader(request, 0, id, 0, STREAM_CMD, 4);
    request.set(u32(this.#options.length), HEADER_SIZE);
    this.#socket.send(request);
  }

  #stopMeasuring(now: number): void {
    this.#measuring = false;
    this.#stoppedAt = now;
    this.tally.cpu.stop();
    if (this.#open.size === 0) return this.#finish();
    // cancel: reset what is still open; the server answers each reset with an end frame.
    const resets = new Uint8Array(this.#open.size * HEADER_SIZE);
    let at = 0;
    for (const id of this.#open) {
      writeHeader(resets, at, id, FLAG_RST, RESET_CANCELLED, 0);
      at += HEADER_SIZE;
    }
    this.#socket.send(resets);
  }

  #finish(): void {
    const done = this.#done;
    this.#done = this.#failed = null;
    done?.();
  }

  #fail(error: Error): void {
    this.#error ??= error;
    const failed = this.#failed;
    this.#done = this.#failed = null;
    failed?.(error);
  }

  async run(ms: number): Promise<void> {
    if (this.#error !== null) throw this.#error;
    const done = new Promise<void>((resolve, reject) => {
      this.#done = resolve;
      this.#failed = reject;
    });
    const tally = this.tally;
    tally.cpu.start();
    const start = performance.now();
    this.#deadline = start + ms;
    this.#count = 0;
    this.#measuring = true;
    for (let i = 0; i < this.concurrency; i++) this.#startStream();
    await withTimeout(
      done,
      ms + this.#options.slackMs,
      `raw stream stalled (${this.#count} messages)`,
      () => this.#socket.close(),
    );
    tally.ops += this.#count;
    tally.seconds += (this.#stoppedAt - start) / 1000;
    if (this.#options.cancel) {
      tally.cancelMs += performance.now() - this.#stoppedAt;
      tally.cancels++;
    }
  }

  reset(): void {
    this.tally.reset();
  }

  close(): Promise<void> {
    this.#done = this.#failed = null;
    this.#socket.close();
    return Promise.resolve();
  }
}
