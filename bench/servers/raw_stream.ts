/**
 * The raw streaming ceiling's server (stream), with this runtime's own socket API on 127.0.0.1, port 0.
 * A request frame (any id, payload: u32 count n) starts a stream: n pre-encoded 48-byte
 * frames (16 B header + 32 B payload, flags Stream 0x01, the request's id), then an end
 * frame (StreamEnd 0x02, empty). A reset frame (StreamRst 0x04) for a running stream
 * stops it; the end frame still follows, so the client knows nothing more is coming. It
 * writes blocks of 1024 frames (48 KiB) as fast as the socket takes them, round-robin over
 * its running streams, and honours backpressure (Bun: write()'s count + `drain`; Node:
 * write() false + `drain`; Deno: awaited writes). Prints `PORT <n>`; exits with its parent.
 *
 *   bun bench/servers/raw_stream.ts | deno run -A bench/servers/raw_stream.ts
 *   node --import tsx bench/servers/raw_stream.ts
 */
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST, runtime } from "../harness/runtime.ts";
import {
  FLAG_END,
  FLAG_RST,
  FLAG_STREAM,
  FRAME_SIZE,
  HEADER_SIZE,
  makePayload,
  PAYLOAD_SIZE,
  readU32,
  STREAM_CMD,
  writeHeader,
} from "../harness/wire.ts";
import { FrameScanner } from "../reference/frame_scanner.ts";
import { listenDeno, listenNode, writeAll } from "./listen.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

const BLOCK_FRAMES = 1024;
const PAYLOAD = makePayload();

interface Stream {
  id: number;
  remaining: number;
  /** BLOCK_FRAMES frames of this stream, encoded once. */
  block: Uint8Array;
}

/** One connection's streams: what to write next, and the frames coming in. */
class StreamSource {
  #streams: Stream[] = [];
  #turn = 0;
  /** End frames waiting to go out (they go before the next block). */
  #ends: number[] = [];
  readonly scanner = new FrameScanner((id, flags, _cmd, payloadLength, bytes, at) => {
    if ((flags & FLAG_RST) !== 0) return this.#stop(id);
    const n = bytes === null || payloadLength < 4 ? 0 : readU32(bytes, at);
    this.#start(id, n);
  });

  /** The next bytes to write, or null when there is nothing to send. */
  next(): Uint8Array | null {
    if (this.#ends.length > 0) {
      const ends = this.#ends;
      this.#ends = [];
      const bytes = new Uint8Array(ends.length * HEADER_SIZE);
      for (let i = 0; i < ends.length; i++) writeHeader(bytes, i * HEADER_SIZE, ends[i], FLAG_END, STREAM_CMD, 0);
      return bytes;
    }
    const streams = this.#streams;
    if (streams.length === 0) return null;
    if (this.#turn >= streams.length) this.#turn = 0;
    const stream = streams[this.#turn];
    const count = Math.min(stream.remaining, BLOCK_FRAMES);
    stream.remaining -= count;
    if (stream.remaining === 0) {
      streams.splice(this.#turn, 1);
      this.#ends.push(stream.id);
    } else {
      this.#turn++;
    }
    return count === BLOCK_FRAMES ? stream.block : stream.block.subarray(0, count * FRAME_SIZE);
  }

  #start(id: number, n: number): void {
    if (n === 0) {
      this.#ends.push(id);
      return;
    }
    const block = new Uint8Array(BLOCK_FRAMES * FRAME_SIZE);
    for (let i = 0; i < BLOCK_FRAMES; i++) {
      writeHeader(block, i * FRAME_SIZE, id, FLAG_STREAM, STREAM_CMD, PAYLOAD_SIZE);
      block.set(PAYLOAD, i * FRAME_SIZE + HEADER_SIZE);
    }
    this.#streams.push({ id, remaining: n, block });
  }

  #stop(id: number): void {
    const at = this.#streams.findIndex((s) => s.id === id);
    if (at < 0) return; // already ended: its end frame is out or queued
    this.#streams.splice(at, 1);
    this.#ends.push(id);
  }
}

function listenBun(): number {
  interface State {
    source: StreamSource;
    tail: Uint8Array | null;
  }
  // deno-lint-ignore no-explicit-any
  const pump = (socket: any) => {
    const state = socket.data as State;
    while (state.tail === null) {
      const bytes = state.source.next();
      if (bytes === null) return;
      const written = socket.write(bytes, 0, bytes.length);
      if (written < 0) return;
      if (written < bytes.length) state.tail = bytes.subarray(written);
    }
  };
  const server = g.Bun.listen({
    hostname: HOST,
    port: 0,
    socket: {
      binaryType: "uint8array",
      // deno-lint-ignore no-explicit-any
      open(socket: any) {
        socket.data = { source: new StreamSource(), tail: null } satisfies State;
      },
      // deno-lint-ignore no-explicit-any
      data(socket: any, data: Uint8Array) {
        (socket.data as State).source.scanner.scan(data);
        pump(socket);
      },
      // deno-lint-ignore no-explicit-any
      drain(socket: any) {
        const state = socket.data as State;
        const tail = state.tail;
        if (tail !== null) {
          const written = socket.write(tail, 0, tail.length);
          if (written < 0) return;
          state.tail = written < tail.length ? tail.subarray(written) : null;
        }
        pump(socket);
      },
      close() {},
      error() {},
    },
  });
  return server.port;
}

function streamDeno(): number {
  return listenDeno((conn) => {
    const source = new StreamSource();
    let pumping = false;
    let gone = false;
    const pump = async () => {
      pumping = true;
      try {
        for (let bytes = source.next(); bytes !== null; bytes = source.next()) await writeAll(conn, bytes);
      } catch {
        gone = true;
      }
      pumping = false;
    };
    return (chunk) => {
      source.scanner.scan(chunk);
      if (!pumping && !gone) pump();
    };
  });
}

function streamNode(): Promise<number> {
  return listenNode((socket) => {
    const source = new StreamSource();
    let waiting = false;
    const pump = () => {
      if (waiting) return;
      for (let bytes = source.next(); bytes !== null; bytes = source.next()) {
        if (!socket.write(bytes)) {
          waiting = true;
          return;
        }
      }
    };
    socket.on("drain", () => {
      waiting = false;
      pump();
    });
    socket.on("data", (chunk: Uint8Array) => {
      source.scanner.scan(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      pump();
    });
  });
}

const port = runtime === "bun" ? listenBun() : runtime === "deno" ? streamDeno() : await streamNode();
announcePort(port);
exitWithParent();
