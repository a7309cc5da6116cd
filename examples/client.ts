/**
 * A weft client that walks through every mode against examples/server.ts.
 * Run alone against a running server:  node --import tsx examples/client.ts 7000
 */
import type { Connection } from "../mod.ts";
import { msgpack } from "../src/codec/codec.ts";
import { connect } from "./adapter.ts";
import { Cmd } from "./server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const log = (line: string) => console.log(`     [client] ${line}`);

export async function runClient(port: number): Promise<void> {
  // gzip for payloads over 1 KiB and a CRC-32 on every frame, if the server agrees.
  const conn: Connection = await connect({ port, codec: "msgpack", compression: "gzip", checksum: true });

  // The server may call us: serve Confirm on this connection.
  conn.handle(Cmd.Confirm, (req) => {
    log(`server asks: ${decoder.decode(req.payload)} -> yes`);
    return encoder.encode("yes");
  });
  let announced: () => void = () => {};
  const announcement = new Promise<void>((resolve) => (announced = resolve));
  conn.onPush((message) => {
    log(`push from the server: ${decoder.decode(message.payload)}`);
    announced();
  });

  console.log("  1. unary");
  const hello = await conn.request(Cmd.Hello, encoder.encode("weft"));
  log(decoder.decode(hello.payload));

  console.log("  2. server streaming (for await)");
  for await (const tick of await conn.request(Cmd.Ticker, new Uint8Array([3]))) log(decoder.decode(tick));

  console.log("  3. client streaming (pipe a ReadableStream into the call)");
  const upload = conn.call(Cmd.Upload);
  const chunks = [new Uint8Array(1024), new Uint8Array(2048), new Uint8Array(512)];
  await new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  }).pipeTo(upload.writable);
  log(decoder.decode((await upload.response).payload));

  console.log("  4. bidirectional streaming");
  const chat = conn.call(Cmd.Chat, { nonBlocking: true });
  const replies = (async () => {
    for await (const reply of chat) log(decoder.decode(reply));
  })();
  for (const line of ["hi", "how are you", "bye"]) await chat.send(encoder.encode(line));
  await chat.end();
  await replies;

  console.log("  5. server calls client, mid-call");
  log(decoder.decode((await conn.request(Cmd.Deploy, encoder.encode("v2"))).payload));

  console.log("  6. cancellation");
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 30);
  try {
    for await (const tick of await conn.request(Cmd.Ticker, new Uint8Array([100]), { signal: controller.signal })) {
      log(decoder.decode(tick));
    }
  } catch (error) {
    log(`stopped: ${(error as Error).message}`);
  }

  console.log("  7. unknown cmd: that call fails, the connection lives on");
  await conn.request(0x4242).catch((error) => log(`${error.code}: ${error.message}`));

  console.log("  8. push, both ways (the server answers with a push to all)");
  conn.push(Cmd.Presence, encoder.encode("client online"));
  await announcement;

  console.log("  9. metadata, deadline and trailers; MessagePack values (bytes stay bytes)");
  const profile = await conn.request(Cmd.Profile, msgpack.encode({ id: 7 }), {
    metadata: { user: "ada" },
    timeout: 2000,
  });
  const value = msgpack.decode(profile.payload) as { id: number; user: string; msLeft: number; avatar: Uint8Array };
  log(`profile ${value.id} for ${value.user}, ${value.msLeft} ms left, avatar of ${value.avatar.length} bytes`);
  log(`trailer served-by: ${profile.trailers["served-by"]}; compression ${conn.compression}, CRC-32 ${conn.checksummed}`);

  await conn.close();
}

if (import.meta.main ?? false) {
  await runClient(Number((globalThis as { process?: { argv: string[] } }).process?.argv[2] ?? 7000));
}
