/**
 * Bidirectional streaming: two users chat through one `chat` procedure. Each user's call
 * streams what they type up, and streams down everything said in the room.
 *   npm run example:chat       (or: bun examples/typed/chat.ts, deno run -A examples/typed/chat.ts)
 *
 * This one shares a contract: schemas without handlers, in a module both sides import.
 * The server gives it handlers with `implement`; the client passes it to `createClient`,
 * so messages are checked before they leave too.
 */
import * as v from "valibot";
import { Server } from "../../mod.ts";
import { bidi, createClient, implement, router, serve } from "../../src/typed/mod.ts";
import { connect, listen } from "../adapter.ts";

// ---- shared contract (e.g. chat_contract.ts) ----------------------------------------
const Said = v.object({ from: v.string(), text: v.string() });
type Said = v.InferOutput<typeof Said>;

const chatContract = router({
  chat: bidi({ input: v.object({ text: v.pipe(v.string(), v.minLength(1), v.maxLength(280)) }), output: Said }),
});

// ---- server side --------------------------------------------------------------------
// Everyone in the room, by the stream that carries messages down to them.
const room = new Map<string, ReadableStreamDefaultController<Said>>();
const broadcast = (said: Said) => room.forEach((listener) => listener.enqueue(said));

const chatServer = implement(chatContract, {
  chat(messages, ctx) {
    // Who is talking comes with the call, as metadata (an app would take it from its auth).
    const user = typeof ctx.metadata.user === "string" ? ctx.metadata.user : "anonymous";
    // The reply stream: whatever anyone says is enqueued here and flows down to this user.
    const down = new ReadableStream<Said>({
      start(controller) {
        room.set(user, controller);
        broadcast({ from: "room", text: `${user} joined` });
      },
      cancel: () => void room.delete(user), // the user hung up without saying goodbye
    });
    // Relay what this user types, until they end their stream (they left).
    (async () => {
      for await (const { text } of messages) broadcast({ from: user, text });
      room.get(user)?.close();
      room.delete(user);
      broadcast({ from: "room", text: `${user} left` });
    })().catch(() => room.delete(user));
    return down;
  },
});

const server = new Server();
serve(chatServer, server);
const listener = await listen(server, { port: 0 });

// ---- client side --------------------------------------------------------------------
/** A user: their own connection and chat call, what they `say`, and what they have seen. */
async function join(user: string) {
  const connection = await connect({ port: listener.port });
  const client = createClient(connection, { contract: chatContract });

  // What the user types: a stream we push lines into, sent up as the request stream.
  let keyboard!: ReadableStreamDefaultController<{ text: string }>;
  const typed = new ReadableStream<{ text: string }>({ start: (controller) => void (keyboard = controller) });

  const seen: string[] = [];
  let wake = () => {};
  const reading = (async () => {
    for await (const { from, text } of client.chat(typed, { metadata: { user } })) {
      console.log(`[${user}'s screen] ${from}: ${text}`);
      seen.push(`${from}: ${text}`);
      wake();
    }
    await connection.close();
  })();

  /** Waits until this user's screen shows `line`. */
  const sees = async (line: string) => {
    while (!seen.includes(line)) await new Promise<void>((resolve) => (wake = resolve));
  };
  await sees(`room: ${user} joined`); // in the room now: the server relays to us
  return {
    sees,
    say: (text: string) => keyboard.enqueue({ text }),
    leave: async () => {
      keyboard.close(); // ends the request stream; the server closes ours, and the loop ends
      await reading;
    },
  };
}

const ada = await join("ada");
const bob = await join("bob");
await ada.sees("room: bob joined");

ada.say("hi bob!");
await bob.sees("ada: hi bob!");
bob.say("hi ada, gotta go, bye");
await ada.sees("bob: hi ada, gotta go, bye");

await bob.leave();
await ada.sees("room: bob left");
await ada.leave();

await server.close();
console.log("done");
