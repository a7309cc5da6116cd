/**
 * Client streaming: the client streams chunks of bytes, the server replies once with what it got.
 *   npm run example:upload     (or: bun examples/typed/upload.ts, deno run -A examples/typed/upload.ts)
 */
import * as v from "valibot";
import { Server } from "../../mod.ts";
import { clientStream, createClient, router, serve } from "../../src/typed/mod.ts";
import { connect, listen } from "../adapter.ts";

// ---- server side --------------------------------------------------------------------
const storage = router({
  upload: clientStream(
    {
      // Each item of the request stream is validated as it arrives, not after the whole upload.
      input: v.instance(Uint8Array),
      output: v.object({ chunks: v.number(), bytes: v.number() }),
    },
    async (chunks, ctx) => {
      let count = 0;
      let bytes = 0;
      for await (const chunk of chunks) {
        count++;
        bytes += chunk.length;
      }
      console.log(`[server] stored ${ctx.metadata.file}: ${bytes} bytes in ${count} chunks`);
      return { chunks: count, bytes };
    },
  ),
});

const server = new Server();
serve(storage, server);
const listener = await listen(server, { port: 0 });

// ---- client side --------------------------------------------------------------------
// Typed values travel as JSON by default; MessagePack carries a Uint8Array as raw bytes.
const connection = await connect({ port: listener.port, codec: "msgpack" });
const client = createClient<typeof storage>(connection);

const CHUNK = 64 * 1024;
const TOTAL = 4 * CHUNK;

// The request stream is any async iterable (or ReadableStream). weft asks for the next
// chunk only once the previous one is sent, and holds back while the server reads slowly,
// so the code after a `yield` runs as each chunk goes out: the place to report progress.
async function* chunksOf(total: number) {
  let sent = 0;
  while (sent < total) {
    const chunk = new Uint8Array(Math.min(CHUNK, total - sent)); // a slice of the file, say
    yield chunk;
    sent += chunk.length;
    console.log(`[client] sent ${sent / 1024} KiB of ${total / 1024} KiB (${Math.round((sent / total) * 100)}%)`);
  }
}

const receipt = await client.upload(chunksOf(TOTAL), { metadata: { file: "photo.raw" } });
console.log(`[client] the server acknowledged ${receipt.bytes} bytes in ${receipt.chunks} chunks`);

await connection.close();
await server.close();
console.log("done");
