/**
 * A plain client TCP connection per runtime, for the raw streaming ceiling's clients
 * (raw_stream_client.ts, raw_bulk_client.ts), whose send() honours backpressure (Bun:
 * write()'s count + `drain`; Node: write() buffers and reports; Deno: one awaited write at
 * a time).
 */
import { HOST, runtime } from "../harness/runtime.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** A plain client TCP connection on this runtime's socket API. */
export interface RawSocket {
  /** Queues `bytes` (never copied, never mutated later by the caller) behind earlier sends. */
  send(bytes: Uint8Array): void;
  close(): void;
}

export interface RawSocketEvents {
  /** A received chunk; it may be reused after the call returns (Deno). */
  onChunk(chunk: Uint8Array): void;
  onError(error: Error): void;
}

export function openRawSocket(port: number, events: RawSocketEvents): Promise<RawSocket> {
  if (runtime === "bun") return openBun(port, events);
  if (runtime === "deno") return openDeno(port, events);
  return openNode(port, events);
}

async function openBun(port: number, events: RawSocketEvents): Promise<RawSocket> {
  let queue: Uint8Array[] = [];
  let head = 0;
  // deno-lint-ignore no-explicit-any
  let socket: any = null;
  const flush = () => {
    while (head < queue.length) {
      const bytes = queue[head];
      const written = socket.write(bytes, 0, bytes.length);
      if (written < 0) return events.onError(new Error("raw: socket closed"));
      if (written < bytes.length) {
        queue[head] = bytes.subarray(written);
        return; // the rest goes on `drain`
      }
      head++;
    }
    queue = [];
    head = 0;
  };
  socket = await g.Bun.connect({
    hostname: HOST,
    port,
    socket: {
      binaryType: "uint8array",
      data: (_socket: unknown, data: Uint8Array) => events.onChunk(data),
      drain: flush,
      close: () => events.onError(new Error("raw: connection closed")),
      end: () => events.onError(new Error("raw: connection ended")),
      error: (_socket: unknown, error: Error) => events.onError(error),
    },
  });
  socket.setNoDelay(true);
  return {
    send(bytes) {
      queue.push(bytes);
      if (queue.length - head === 1) flush();
    },
    close() {
      socket.terminate();
    },
  };
}

async function openDeno(port: number, events: RawSocketEvents): Promise<RawSocket> {
  const conn = await g.Deno.connect({ hostname: HOST, port, transport: "tcp" });
  conn.setNoDelay(true);
  let closed = false;
  let writing = false;
  let queue: Uint8Array[] = [];
  (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n: number | null = await conn.read(buf);
        if (n === null) break;
        events.onChunk(buf.subarray(0, n));
      }
      events.onError(new Error("raw: connection closed"));
    } catch (error) {
      events.onError(error as Error);
    }
  })();
  const writeAll = async () => {
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        for (const bytes of batch) {
          for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        }
      }
    } catch (error) {
      events.onError(error as Error);
    }
    writing = false;
  };
  return {
    send(bytes) {
      queue.push(bytes);
      if (!writing) writeAll();
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

async function openNode(port: number, events: RawSocketEvents): Promise<RawSocket> {
  const net = await import("node:net");
  const socket = net.connect({ host: HOST, port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.setNoDelay(true);
  // A plain Uint8Array view of each Buffer (as weft's Node adapter makes): one shape for the scanner.
  socket.on("data", (chunk: Buffer) => events.onChunk(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  socket.on("error", (error: Error) => events.onError(error));
  socket.on("close", () => events.onError(new Error("raw: connection closed")));
  return {
    // Node queues what the kernel does not take; the callers bound what they send.
    send(bytes) {
      socket.write(bytes);
    },
    close() {
      socket.destroy();
    },
  };
}
