/**
 * A raw client for byte-level tests: writes hand-built bytes to a weft server and reads
 * back exactly what arrives, so weft's encoder is never checked only against its own
 * decoder. Over TCP it is a node:net socket (all three runtimes have it); over WebSocket
 * (the suite's second pass) each write is one binary message, and every message that
 * arrives is checked to hold exactly one frame, as qrpc's bridge requires of a sender.
 */
import * as net from "node:net";
import { WebSocket as WsWebSocket } from "ws";
import { transport, webSocketUrl } from "./runtime.ts";

/** Where a RawSocket's bytes go: a TCP socket or a WebSocket. */
interface Pipe {
  write(bytes: Uint8Array): void;
  destroy(): void;
  sendText?(text: string): void;
}

export class RawSocket {
  #pipe!: Pipe;
  #buffer = new Uint8Array(0);
  #waiters: Array<() => void> = [];
  closed = false;
  /** Over WebSocket: the close code and reason the server sent (or 1006). */
  closeCode: number | null = null;
  closeReason = "";
  /** Over WebSocket: the subprotocol the server chose ("" for none). */
  protocol = "";
  /** Over WebSocket: a message that did not hold exactly one frame. */
  #badMessage: string | null = null;

  private constructor() {}

  static connect(port: number, hostname = "127.0.0.1"): Promise<RawSocket> {
    return transport === "websocket" ? RawSocket.connectWebSocket(port, hostname) : RawSocket.#connectTcp(port, hostname);
  }

  static #connectTcp(port: number, hostname: string): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: hostname }, () => {
        const raw = new RawSocket();
        raw.#pipe = { write: (bytes) => socket.write(bytes), destroy: () => socket.destroy() };
        socket.setNoDelay(true);
        socket.on("data", (chunk: Uint8Array) => raw.#received(chunk));
        const onClose = () => raw.#closed();
        socket.on("close", onClose);
        socket.on("end", onClose);
        socket.on("error", onClose);
        resolve(raw);
      });
      socket.once("error", reject);
    });
  }

  /** A WebSocket to weft's listener on `port`, whatever the transport under test. */
  static connectWebSocket(port: number, hostname = "127.0.0.1", protocols?: string[]): Promise<RawSocket> {
    type Socket = InstanceType<typeof WsWebSocket>;
    const Class = (globalThis as unknown as { WebSocket?: typeof WsWebSocket }).WebSocket ?? WsWebSocket;
    const socket: Socket = new Class(webSocketUrl(port, hostname), protocols);
    socket.binaryType = "arraybuffer";
    const raw = new RawSocket();
    raw.#pipe = {
      write: (bytes) => {
        if (socket.readyState === 1) socket.send(bytes);
      },
      destroy: () => socket.close(),
      sendText: (text) => socket.send(text),
    };
    return new Promise((resolve, reject) => {
      socket.addEventListener("open", () => {
        raw.protocol = socket.protocol;
        resolve(raw);
      });
      socket.addEventListener("error", (event) => {
        reject(new Error(`websocket error: ${(event as { message?: string }).message ?? ""}`));
        raw.#closed();
      });
      socket.addEventListener("close", (event) => {
        raw.closeCode = event.code;
        raw.closeReason = event.reason;
        raw.#closed();
      });
      socket.addEventListener("message", (event) => {
        if (typeof event.data === "string") {
          raw.#badMessage = `a text message arrived: ${event.data}`;
          return raw.#wake();
        }
        const bytes = new Uint8Array(event.data as ArrayBuffer);
        const length = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0) : -1;
        if (length + 4 !== bytes.length) raw.#badMessage ??= `a message of ${bytes.length} bytes is not one frame`;
        raw.#received(bytes);
      });
    });
  }

  /** Over WebSocket: sends a text message (which the bridge forbids). */
  sendText(text: string): void {
    if (this.#pipe.sendText === undefined) throw new Error("text messages exist only over WebSocket");
    this.#pipe.sendText(text);
  }

  #received(chunk: Uint8Array): void {
    const next = new Uint8Array(this.#buffer.length + chunk.length);
    next.set(this.#buffer);
    next.set(chunk, this.#buffer.length);
    this.#buffer = next;
    this.#wake();
  }

  #closed(): void {
    this.closed = true;
    this.#wake();
  }

  write(bytes: Uint8Array): void {
    this.#pipe.write(bytes);
  }

  /** Reads exactly `n` bytes; rejects on close or after `ms`. */
  async read(n: number, ms = 5000): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    if (this.#badMessage !== null) throw new Error(this.#badMessage);
    while (this.#buffer.length < n) {
      if (this.#badMessage !== null) throw new Error(this.#badMessage);
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
    this.#pipe.destroy();
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
