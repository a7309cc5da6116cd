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

function listenDeno(): number {
  const listener = g.Deno.listen({ hostname: HOST, port: 0, transport: "tcp" });
  // deno-lint-ignore no-explicit-any
  const serve = async (conn: any) => {
    conn.setNoDelay(true);
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n: number | null = await conn.read(buf);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await conn.write(buf.subarray(off, n));
      }
    } catch {
      // peer went away
    }
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  (async () => {
    for await (const conn of listener) serve(conn);
  })();
  return listener.addr.port;
}

async function listenNode(): Promise<number> {
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("error", () => {});
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve((server.address() as { port: number }).port));
  });
}

const port = runtime === "bun" ? listenBun() : runtime === "deno" ? listenDeno() : await listenNode();
announcePort(port);
exitWithParent();
