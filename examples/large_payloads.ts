/**
 * Large payloads without a new buffer each: `lendPayloads` on both ends. A 1 MiB request
 * arrives in many reads and is assembled into a pooled buffer; the handler may read it (and
 * reply with it) until it returns, and the caller reads the reply until `release()`.
 *
 *   deno run -A examples/large_payloads.ts | bun examples/large_payloads.ts | node --import tsx examples/large_payloads.ts
 */
import { Server } from "../mod.ts";
import { connect, listen } from "./adapter.ts";

const MiB = 1024 * 1024;

// A handler reads its lent request (or replies with it) until it returns; it copies what it keeps.
const server = new Server({ lendPayloads: true });
server.handle(1, (request) => request.payload);
const listener = await listen(server, { port: 0 });
const conn = await connect({ port: listener.port, lendPayloads: true });

const payload = new Uint8Array(MiB);
for (let round = 1; round <= 3; round++) {
  payload.fill(round);
  const reply = await conn.request(1, payload);
  const intact = reply.payload.length === MiB && reply.payload.every((byte) => byte === round);
  console.log(`round ${round}: 1 MiB echoed, ${intact ? "every byte intact" : "CORRUPTED"}`);
  reply.release(); // the next reply may be assembled into this buffer: do not read it after this
}

await conn.close();
await server.close();
