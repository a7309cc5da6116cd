/**
 * A weft server showing every mode. Run alone with a port to serve forever:
 *   node --import tsx examples/server.ts 7000     (or: bun examples/server.ts 7000)
 */
import { msgpack } from "../src/codec/codec.ts";
import { RpcError, Server } from "../mod.ts";
import { listen } from "./adapter.ts";

export const Cmd = {
  Hello: 1, // unary
  Ticker: 2, // server stream
  Upload: 3, // client stream
  Chat: 4, // bidirectional stream
  Deploy: 5, // the server asks the client to confirm, mid-call
  Confirm: 100, // served by the client
  Announce: 200, // pushed by the server
  Presence: 201, // pushed by a client
  Profile: 6, // metadata in, trailers out, MessagePack payloads
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const log = (line: string) => console.log(`     [server] ${line}`);

export function createServer(): Server {
  const server = new Server({
    onError: (error) => log(`error: ${(error as Error).message}`),
  });

  // Unary: one request, one reply.
  server.handle(Cmd.Hello, (req) => encoder.encode(`hello, ${decoder.decode(req.payload)}`));

  // Server streaming: an async generator; each yield is a frame.
  server.handle(Cmd.Ticker, async function* (req) {
    const count = req.payload[0] ?? 3;
    for (let i = 1; i <= count && !req.signal.aborted; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield encoder.encode(`tick ${i}/${count}`);
    }
  });

  // Client streaming: read the caller's stream, reply once.
  server.handle(Cmd.Upload, async (req) => {
    let bytes = 0;
    for await (const chunk of req.stream) bytes += chunk.length;
    log(`upload complete: ${bytes} bytes`);
    return encoder.encode(`stored ${bytes} bytes`);
  });

  // Bidirectional: answer each message as it arrives.
  server.handle(Cmd.Chat, async function* (req) {
    for await (const message of req.stream) {
      yield encoder.encode(`echo: ${decoder.decode(message).toUpperCase()}`);
    }
  });

  // Server calls client: ask the caller to confirm before replying.
  server.handle(Cmd.Deploy, async (req) => {
    const target = decoder.decode(req.payload);
    const answer = await req.connection.request(Cmd.Confirm, encoder.encode(`deploy ${target}?`), { timeout: 5000 });
    if (decoder.decode(answer.payload) !== "yes") throw new RpcError("aborted", "the client said no");
    return encoder.encode(`deployed ${target}`);
  });

  // Beyond qrpc: the caller's metadata and deadline come in, trailers go out; values as MessagePack.
  server.handle(Cmd.Profile, (req) => {
    const { id } = msgpack.decode(req.payload) as { id: number };
    req.trailers["served-by"] = "example-server";
    const msLeft = req.deadline === undefined ? null : Math.round((req.deadline - Date.now()) / 100) * 100;
    return msgpack.encode({ id, user: req.metadata["user"], msLeft, avatar: new Uint8Array([0xca, 0xfe]) });
  });

  // Push, both ways: when a client pushes its presence, announce it to every connection.
  server.onPush((message) => {
    log(`push from a client: ${decoder.decode(message.payload)}`);
    const sent = server.pushAll(Cmd.Announce, encoder.encode(`someone is online (told ${server.connections.size})`));
    log(`pushed an announcement to ${sent} connection(s)`);
  });
  return server;
}

if (import.meta.main ?? false) {
  const port = Number((globalThis as { process?: { argv: string[] } }).process?.argv[2] ?? 7000);
  const server = createServer();
  const listener = await listen(server, { port });
  log(`listening on ${listener.hostname}:${listener.port}`);
}
