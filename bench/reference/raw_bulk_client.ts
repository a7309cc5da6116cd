/**
 * The raw 1 MiB ceiling's client (stream's `raw-1mib` rows): `concurrency` frames in flight
 * on one raw TCP connection to servers/raw_echo.ts, each a 16-byte header then the payload
 * (two writes, as weft's writer does), echoed byte for byte. It reads each whole frame back
 * (header checked; the payload skipped, never copied, or with `assemble` copied into one
 * buffer of its own, as an RPC client hands its caller a reply) before counting the call,
 * and replaces each completed frame with a new one.
 */
import { type Client, Tally } from "../harness/tally.ts";
import { withTimeout } from "../harness/watchdog.ts";
import { ECHO_CMD, HEADER_SIZE, writeHeader } from "../harness/wire.ts";
import { FrameScanner } from "./frame_scanner.ts";
import { openRawSocket, type RawSocket } from "./raw_socket.ts";

export class RawBulkClient implements Client {
  readonly tally: Tally;
  readonly #payload: Uint8Array;
  #socket!: RawSocket;
  #scanner: FrameScanner;
  #sendTimes: Float64Array;
  #sent = 0;
  #received = 0;
  #active = false;
  #deadline = 0;
  #completed = 0;
  #last = 0;
  #done: (() => void) | null = null;
  #failed: ((error: Error) => void) | null = null;
  #error: Error | null = null;

  private constructor(
    readonly concurrency: number,
    serverPid: number | undefined,
    payload: Uint8Array,
    assemble: boolean,
  ) {
    this.tally = new Tally(serverPid);
    this.#payload = payload;
    this.#sendTimes = new Float64Array(concurrency);
    // keepUpTo 0: bulk payloads are skipped, never copied; otherwise each is assembled.
    this.#scanner = new FrameScanner(
      (id, _flags, cmd, payloadLength) => this.#frame(id, cmd, payloadLength),
      assemble ? payload.length : 0,
    );
  }

  static async open(
    port: number,
    concurrency: number,
    serverPid: number | undefined,
    payload: Uint8Array,
    assemble: boolean,
  ): Promise<RawBulkClient> {
    const client = new RawBulkClient(concurrency, serverPid, payload, assemble);
    client.#socket = await openRawSocket(port, {
      onChunk: (chunk) => {
        try {
          client.#scanner.scan(chunk);
        } catch (error) {
          client.#fail(error as Error);
          client.#socket.close();
        }
      },
      onError: (error) => client.#fail(error),
    });
    return client;
  }

  #send(now: number): void {
    const seq = this.#sent++;
    const header = new Uint8Array(HEADER_SIZE);
    writeHeader(header, 0, (2 * seq + 1) >>> 0, 0, ECHO_CMD, this.#payload.length);
    this.#sendTimes[seq % this.concurrency] = now;
    this.#socket.send(header);
    this.#socket.send(this.#payload);
  }

  #frame(id: number, cmd: number, payloadLength: number): void {
    const seq = this.#received++;
    if (id !== ((2 * seq + 1) >>> 0) || cmd !== ECHO_CMD || payloadLength !== this.#payload.length) {
      throw new Error(`raw echo: unexpected frame id ${id} cmd ${cmd} length ${payloadLength}`);
    }
    const now = performance.now();
    this.tally.hist.add(now - this.#sendTimes[seq % this.concurrency]);
    this.#completed++;
    this.#last = now;
    if (this.#active && now >= this.#deadline) this.#active = false;
    if (this.#active) this.#send(now);
    else if (this.#received === this.#sent) {
      const done = this.#done;
      this.#done = this.#failed = null;
      done?.();
    }
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
    this.#active = true;
    this.#completed = 0;
    for (let i = 0; i < this.concurrency; i++) this.#send(start);
    await withTimeout(done, ms + 10_000, `raw 1 MiB echo stalled (${this.#completed} calls)`, () => this.#socket.close());
    tally.cpu.stop();
    tally.ops += this.#completed;
    tally.seconds += (this.#last - start) / 1000;
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
