/**
 * Raw pieces for stream.ts's ceilings: a qrpc frame scanner that works chunk by chunk
 * (frames of any size, split anywhere), and a plain client socket per runtime whose
 * send() honours backpressure (Bun: write()'s count + `drain`; Node: write() buffers and
 * reports; Deno: one awaited write at a time).
 */
import { HEADER_SIZE, HOST, runtime } from "./common.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/**
 * One frame. `bytes` holds the payload at `payloadOffset` when it arrived in one piece or
 * is small enough to be kept (see FrameScanner); otherwise it is null (the payload was
 * skipped, as a counting client does with bulk data).
 */
export type RawFrameHandler = (
  id: number,
  flags: number,
  cmd: number,
  payloadLength: number,
  bytes: Uint8Array | null,
  payloadOffset: number,
) => void;

/** Largest length field accepted (as weft's default: 10 MiB). */
const MAX_LENGTH = 10 * 1024 * 1024;

/**
 * Splits a byte stream into qrpc frames. Frames wholly inside a chunk are handed out in
 * place (no copy); a frame split across chunks has its header assembled, and its payload
 * kept if at most `keepUpTo` bytes, else skipped. Ids must fit in 32 bits.
 */
export class FrameScanner {
  readonly #onFrame: RawFrameHandler;
  readonly #keepUpTo: number;
  #head = new Uint8Array(HEADER_SIZE);
  #headLen = 0;
  /** Payload bytes of the split frame still to come. */
  #rest = 0;
  #small: Uint8Array | null = null;
  #smallLen = 0;
  #id = 0;
  #flags = 0;
  #cmd = 0;
  #payloadLength = 0;

  constructor(onFrame: RawFrameHandler, keepUpTo = 64) {
    this.#onFrame = onFrame;
    this.#keepUpTo = keepUpTo;
  }

  scan(chunk: Uint8Array): void {
    let off = 0;
    const end = chunk.length;
    if (this.#headLen > 0 || this.#rest > 0) {
      off = this.#continue(chunk);
      if (off < 0) return;
    }
    const onFrame = this.#onFrame;
    while (end - off >= HEADER_SIZE) {
      const length = ((chunk[off] << 24) | (chunk[off + 1] << 16) | (chunk[off + 2] << 8) | chunk[off + 3]) >>> 0;
      if (length < 12 || length > MAX_LENGTH) throw new Error(`raw: bad length field ${length}`);
      if ((chunk[off + 4] | chunk[off + 5] | chunk[off + 6] | chunk[off + 7]) !== 0) throw new Error("raw: id >= 2^32");
      const id = ((chunk[off + 8] << 24) | (chunk[off + 9] << 16) | (chunk[off + 10] << 8) | chunk[off + 11]) >>> 0;
      const flags = chunk[off + 12];
      const cmd = (chunk[off + 13] << 16) | (chunk[off + 14] << 8) | chunk[off + 15];
      const payloadLength = length - 12;
      const frameEnd = off + HEADER_SIZE + payloadLength;
      if (frameEnd <= end) {
        onFrame(id, flags, cmd, payloadLength, chunk, off + HEADER_SIZE);
        off = frameEnd;
        continue;
      }
      this.#begin(id, flags, cmd, payloadLength);
      this.#payload(chunk, off + HEADER_SIZE);
      return;
    }
    if (off < end) {
      this.#head.set(chunk.subarray(off), 0);
      this.#headLen = end - off;
    }
  }

  /** Continues a split frame; returns where the rest of `chunk` starts, or -1 if all used. */
  #continue(chunk: Uint8Array): number {
    let off = 0;
    if (this.#headLen > 0) {
      const take = Math.min(HEADER_SIZE - this.#headLen, chunk.length);
      this.#head.set(chunk.subarray(0, take), this.#headLen);
      this.#headLen += take;
      if (this.#headLen < HEADER_SIZE) return -1;
      this.#headLen = 0;
      off = take;
      const h = this.#head;
      const length = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
      if (length < 12 || length > MAX_LENGTH) throw new Error(`raw: bad length field ${length}`);
      if ((h[4] | h[5] | h[6] | h[7]) !== 0) throw new Error("raw: id >= 2^32");
      const id = ((h[8] << 24) | (h[9] << 16) | (h[10] << 8) | h[11]) >>> 0;
      this.#begin(id, h[12], (h[13] << 16) | (h[14] << 8) | h[15], length - 12);
      if (length === 12) {
        this.#finish();
        return off;
      }
    }
    const used = this.#payload(chunk, off);
    return this.#rest > 0 ? -1 : used;
  }

  #begin(id: number, flags: number, cmd: number, payloadLength: number): void {
    this.#id = id;
    this.#flags = flags;
    this.#cmd = cmd;
    this.#payloadLength = payloadLength;
    this.#rest = payloadLength;
    this.#smallLen = 0;
    this.#small = payloadLength <= this.#keepUpTo ? new Uint8Array(payloadLength) : null;
  }

  /** Takes the split frame's payload bytes from `chunk` at `off`; returns the offset after them. */
  #payload(chunk: Uint8Array, off: number): number {
    const take = Math.min(this.#rest, chunk.length - off);
    if (this.#small !== null) {
      this.#small.set(chunk.subarray(off, off + take), this.#smallLen);
      this.#smallLen += take;
    }
    this.#rest -= take;
    if (this.#rest === 0) this.#finish();
    return off + take;
  }

  #finish(): void {
    const small = this.#small;
    this.#small = null;
    this.#rest = 0;
    this.#onFrame(this.#id, this.#flags, this.#cmd, this.#payloadLength, small, 0);
  }
}

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
