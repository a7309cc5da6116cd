/**
 * The websocket bench's reference client (its `raw` rows): keeps N 32-byte binary messages
 * in flight on one WebSocket to servers/raw_websocket_echo.ts, with the same WebSocket
 * client class weft's client uses on this runtime (see harness/adapters.ts's
 * clientWebSocket) and the same standard API
 * (`binaryType = "arraybuffer"`, `addEventListener("message")`, `send`). Each message
 * carries a u32 counter in its first 4 bytes; replies are checked in order (the echo is
 * FIFO), timed, and each one is answered at once with the next message, so N stay in flight.
 * No promises, no framing: the least work an RPC client over WebSocket could do.
 */
import type { WebSocketConstructor, WebSocketLike } from "../../src/transports/websocket_client.ts";
import type { Histogram } from "../harness/histogram.ts";
import { type Client, Tally } from "../harness/tally.ts";
import { withTimeout } from "../harness/watchdog.ts";
import { makePayload, PAYLOAD_SIZE, readU32 } from "../harness/wire.ts";

const PAYLOAD = makePayload();
const OPEN = 1;

export class RawWebSocketClient implements Client {
  readonly tally: Tally;
  readonly #hist: Histogram;
  readonly #socket: WebSocketLike;
  #sendTimes: Float64Array;
  #nextId = 0;
  #expectId = 0;
  #active = false;
  #deadline = 0;
  #completed = 0;
  #lastCompletion = 0;
  #done: (() => void) | null = null;
  #failed: ((error: Error) => void) | null = null;
  #error: Error | null = null;

  private constructor(socket: WebSocketLike, readonly inFlight: number, serverPid: number | undefined) {
    this.#socket = socket;
    this.#sendTimes = new Float64Array(inFlight);
    this.tally = new Tally(serverPid);
    this.#hist = this.tally.hist;
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
    socket.addEventListener("close", (event) => this.#fail(new Error(`raw ws: closed with code ${event.code}`)));
    socket.addEventListener("error", () => this.#fail(new Error("raw ws: socket error")));
  }

  /** Connects to `url` and waits for the socket to be open. */
  static async open(
    url: string,
    WebSocketClass: WebSocketConstructor,
    inFlight: number,
    serverPid: number | undefined,
  ): Promise<RawWebSocketClient> {
    const socket = new WebSocketClass(url);
    socket.binaryType = "arraybuffer";
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve());
        socket.addEventListener("error", () => reject(new Error(`raw ws: cannot connect to ${url}`)));
      }),
      10_000,
      `raw ws: no connection to ${url} within 10 s`,
      () => socket.close(),
    );
    return new RawWebSocketClient(socket, inFlight, serverPid);
  }

  async run(ms: number): Promise<void> {
    if (this.#error !== null) throw this.#error;
    const start = performance.now();
    this.#active = true;
    this.#deadline = start + ms;
    this.#completed = 0;
    this.#lastCompletion = start;
    const done = new Promise<void>((resolve, reject) => {
      this.#done = resolve;
      this.#failed = reject;
    });
    const tally = this.tally;
    tally.cpu.start();
    for (let i = 0; i < this.inFlight; i++) this.#send(start);
    // Bounded: the phase ends by itself at the deadline; a stalled server fails it.
    await withTimeout(done, ms + 10_000, `raw ws stalled (${this.#completed} calls done)`, () => this.#socket.close());
    tally.cpu.stop();
    tally.ops += this.#completed;
    tally.seconds += (this.#lastCompletion - start) / 1000;
  }

  #send(now: number): void {
    const message = PAYLOAD.slice();
    const id = this.#nextId;
    message[0] = id >>> 24;
    message[1] = id >>> 16;
    message[2] = id >>> 8;
    message[3] = id;
    this.#nextId = (id + 1) >>> 0;
    this.#sendTimes[id % this.inFlight] = now;
    if (this.#socket.readyState !== OPEN) return this.#fail(new Error("raw ws: socket not open"));
    this.#socket.send(message);
  }

  #onMessage(data: unknown): void {
    const now = performance.now();
    const bytes = data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : null;
    if (bytes === null || bytes.length !== PAYLOAD_SIZE) {
      return this.#fail(new Error(`raw ws: bad echo (${bytes === null ? typeof data : `${bytes.length} bytes`})`));
    }
    const id = readU32(bytes, 0);
    if (id !== this.#expectId) return this.#fail(new Error(`raw ws: expected message ${this.#expectId}, got ${id}`));
    this.#expectId = (id + 1) >>> 0;
    this.#hist.add(now - this.#sendTimes[id % this.inFlight]);
    this.#completed++;
    this.#lastCompletion = now;
    if (this.#active && now >= this.#deadline) this.#active = false;
    if (this.#active) return this.#send(now);
    if (this.#nextId === this.#expectId) {
      const done = this.#done;
      this.#done = this.#failed = null;
      done?.();
    }
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.#active = false;
    const failed = this.#failed;
    this.#done = this.#failed = null;
    failed?.(error);
  }

  reset(): void {
    this.tally.reset();
  }

  close(): Promise<void> {
    this.#active = false;
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
    return Promise.resolve();
  }
}
