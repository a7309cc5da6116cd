/**
 * A raw TCP client for byte-level tests: writes hand-built bytes to a weft server and
 * reads back exactly what arrives, so weft's encoder is never checked only against its
 * own decoder. Built on node:net, which all three runtimes provide.
 */
import * as net from "node:net";

export class RawSocket {
  #socket: net.Socket;
  #buffer = new Uint8Array(0);
  #waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => {
      const next = new Uint8Array(this.#buffer.length + chunk.length);
      next.set(this.#buffer);
      next.set(chunk, this.#buffer.length);
      this.#buffer = next;
      this.#wake();
    });
    const onClose = () => {
      this.closed = true;
      this.#wake();
    };
    socket.on("close", onClose);
    socket.on("end", onClose);
    socket.on("error", onClose);
  }

  static connect(port: number, hostname = "127.0.0.1"): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: hostname }, () => resolve(new RawSocket(socket)));
      socket.once("error", reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** Reads exactly `n` bytes; rejects on close or after `ms`. */
  async read(n: number, ms = 5000): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    while (this.#buffer.length < n) {
      if (this.closed) throw new Error(`socket closed after ${this.#buffer.length} of ${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out reading ${n} bytes (have ${this.#buffer.length})`);
      await this.#wait(left);
    }
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }

  /** Reads one whole frame (header + payload). */
  async readFrame(ms = 5000): Promise<Uint8Array> {
    const head = await this.read(4, ms);
    const length = new DataView(head.buffer).getUint32(0);
    const rest = await this.read(length, ms);
    const frame = new Uint8Array(4 + length);
    frame.set(head);
    frame.set(rest, 4);
    return frame;
  }

  /** Resolves true once the peer has closed the connection, false if it is still open after `ms`. */
  async waitClosed(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.#wait(left);
    }
    return true;
  }

  /** Bytes received and not read yet. */
  get pending(): number {
    return this.#buffer.length;
  }

  close(): void {
    this.#socket.destroy();
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
