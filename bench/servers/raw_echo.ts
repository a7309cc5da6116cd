/**
 * The raw TCP ceiling's server (unary, typed, and stream's 1 MiB echo): a plain TCP echo on 127.0.0.1, port 0, written the most
 * straightforward fast way with this runtime's own socket API. It echoes bytes as they
 * arrive (no framing): the client does the parsing. Prints `PORT <n>` and exits when its
 * parent does (stdin EOF).
 *
 *   bun bench/servers/raw_echo.ts | deno run -A bench/servers/raw_echo.ts
 *   node --import tsx bench/servers/raw_echo.ts
 */
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST, runtime } from "../harness/runtime.ts";
import { listenDeno, listenNode, writeAll } from "./listen.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

function listenBun(): number {
  interface EchoState {
    tail: Uint8Array | null;
  }
  const server = g.Bun.listen({
    hostname: HOST,
    port: 0,
    socket: {
      binaryType: "uint8array",
      open(socket: { data: EchoState }) {
        socket.data = { tail: null };
      },
      // deno-lint-ignore no-explicit-any
      data(socket: any, data: Uint8Array) {
        const state = socket.data as EchoState;
        if (state.tail !== null) {
          // Still waiting for drain: queue behind the unsent bytes, in order.
          const joined = new Uint8Array(state.tail.length + data.length);
          joined.set(state.tail);
          joined.set(data, state.tail.length);
          state.tail = joined;
          return;
        }
        const written = socket.write(data, 0, data.length);
        if (written >= 0 && written < data.length) state.tail = data.slice(written);
      },
      // deno-lint-ignore no-explicit-any
      drain(socket: any) {
        const state = socket.data as EchoState;
        const tail = state.tail;
        if (tail === null) return;
        const written = socket.write(tail, 0, tail.length);
        state.tail = written >= 0 && written < tail.length ? tail.slice(written) : null;
      },
      close() {},
      error() {},
    },
  });
  return server.port;
}

function echoDeno(): number {
  return listenDeno((conn) => (chunk) => writeAll(conn, chunk));
}

function echoNode(): Promise<number> {
  return listenNode((socket) => socket.on("data", (chunk) => socket.write(chunk)));
}

const port = runtime === "bun" ? listenBun() : runtime === "deno" ? echoDeno() : await echoNode();
announcePort(port);
exitWithParent();
