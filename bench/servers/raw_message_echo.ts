/**
 * The store-and-forward ceiling's server (stream's `raw-msg` 1 MiB rows): a raw TCP echo on
 * 127.0.0.1, port 0, that does the least a unary RPC server must. It reads each qrpc frame
 * whole into one buffer of its own (one allocation and one copy, as a handler needs its
 * payload in one piece) and only then writes it back: a 16-byte header, then the payload.
 *
 * servers/raw_echo.ts echoes bytes as they arrive, so the reply of a 1 MiB call is already
 * leaving while the request is still coming in. No unary RPC can do that: its handler runs
 * once the request is whole. At one call in flight that alone costs the time of a second
 * transfer, so weft is measured against both.
 *
 * Written the straightforward fast way with this runtime's own socket API; backpressure as
 * in raw_stream.ts (Bun: write()'s count + `drain`; Node: write() false + `drain`; Deno:
 * awaited writes). Prints `PORT <n>`; exits with its parent.
 *
 *   bun bench/servers/raw_message_echo.ts | deno run -A bench/servers/raw_message_echo.ts
 *   node --import tsx bench/servers/raw_message_echo.ts
 */
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST, runtime } from "../harness/runtime.ts";
import { HEADER_SIZE, writeHeader } from "../harness/wire.ts";
import { FrameScanner } from "../reference/frame_scanner.ts";
import { listenDeno, listenNode, writeAll } from "./listen.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Every payload is assembled, whatever its size (up to the scanner's 10 MiB). */
const ASSEMBLE_ALL = Number.MAX_SAFE_INTEGER;

/**
 * One connection's frames, each echoed once it is whole. A frame that arrived inside one
 * chunk is copied out too: the chunk may be reused (Deno), and a handler owns its payload.
 */
function echoScanner(send: (bytes: Uint8Array) => void): FrameScanner {
  return new FrameScanner((id, flags, cmd, payloadLength, bytes, at) => {
    const payload = bytes === null ? new Uint8Array(payloadLength) : bytes.slice(at, at + payloadLength);
    const header = new Uint8Array(HEADER_SIZE);
    writeHeader(header, 0, id, flags, cmd, payloadLength);
    send(header);
    send(payload);
  }, ASSEMBLE_ALL);
}

function listenBun(): number {
  interface State {
    scanner: FrameScanner;
    queue: Uint8Array[];
  }
  // deno-lint-ignore no-explicit-any
  const flush = (socket: any) => {
    const queue = (socket.data as State).queue;
    while (queue.length > 0) {
      const bytes = queue[0];
      const written = socket.write(bytes, 0, bytes.length);
      if (written < 0) return;
      if (written < bytes.length) {
        queue[0] = bytes.subarray(written);
        return; // the rest goes on `drain`
      }
      queue.shift();
    }
  };
  const server = g.Bun.listen({
    hostname: HOST,
    port: 0,
    socket: {
      binaryType: "uint8array",
      // deno-lint-ignore no-explicit-any
      open(socket: any) {
        const state: State = {
          queue: [],
          scanner: echoScanner((bytes) => {
            state.queue.push(bytes);
            if (state.queue.length === 1) flush(socket);
          }),
        };
        socket.data = state;
      },
      // deno-lint-ignore no-explicit-any
      data(socket: any, data: Uint8Array) {
        (socket.data as State).scanner.scan(data);
      },
      drain: flush,
      close() {},
      error() {},
    },
  });
  return server.port;
}

function echoDeno(): number {
  return listenDeno((conn) => {
    let queue: Uint8Array[] = [];
    let writing = false;
    const pump = async () => {
      writing = true;
      try {
        while (queue.length > 0) for (const bytes of queue.splice(0)) await writeAll(conn, bytes);
      } catch {
        queue = [];
      }
      writing = false;
    };
    const scanner = echoScanner((bytes) => {
      queue.push(bytes);
      if (!writing) pump();
    });
    return (chunk) => scanner.scan(chunk);
  });
}

function echoNode(): Promise<number> {
  return listenNode((socket) => {
    // Node queues what it cannot send yet, and keeps each chunk until it is sent.
    const scanner = echoScanner((bytes) => socket.write(bytes));
    socket.on("data", (chunk: Uint8Array) => scanner.scan(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  });
}

const port = runtime === "bun" ? listenBun() : runtime === "deno" ? echoDeno() : await echoNode();
announcePort(port);
exitWithParent();
