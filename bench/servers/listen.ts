/**
 * The accept side of the raw reference servers (raw_echo.ts, raw_stream.ts,
 * raw_message_echo.ts) on Deno and Node, written once: each on 127.0.0.1, port 0, with Nagle
 * off. What a server does with a connection's bytes is its own; Bun's servers keep their own
 * `Bun.listen` handlers, whose shape differs per server.
 */
import { HOST } from "../harness/runtime.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** A Deno TCP connection, as much of it as the servers use. */
export interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
}

/** Writes all of `bytes` to a Deno connection (a write may take only part). */
export async function writeAll(conn: DenoConn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/**
 * Deno: serves each connection by reading into one 64 KiB buffer and awaiting the handler
 * `open(conn)` returns on each read (so the buffer is free again once it settles), until the
 * peer closes or fails. Returns the port.
 */
export function listenDeno(open: (conn: DenoConn) => (chunk: Uint8Array) => void | Promise<void>): number {
  const listener = g.Deno.listen({ hostname: HOST, port: 0, transport: "tcp" });
  // deno-lint-ignore no-explicit-any
  const serve = async (conn: any) => {
    conn.setNoDelay(true);
    const onChunk = open(conn);
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n: number | null = await conn.read(buf);
        if (n === null) break;
        await onChunk(buf.subarray(0, n));
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

/** Node: a `net` server whose sockets (Nagle off, errors ignored) `open` sets up. Resolves to the port. */
export async function listenNode(open: (socket: import("node:net").Socket) => void): Promise<number> {
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    open(socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve((server.address() as { port: number }).port));
  });
}
