/**
 * Push to all: the server emits typed events; every connected client that subscribed gets them.
 *   npm run example:notifications
 *   (or: bun examples/typed/notifications.ts, deno run -A examples/typed/notifications.ts)
 */
import * as v from "valibot";
import { type Connection, Server } from "../../mod.ts";
import { type Client, createClient, event, router, serve, unary } from "../../src/typed/mod.ts";
import { connect, listen } from "../adapter.ts";

// ---- server side --------------------------------------------------------------------
const Notice = v.object({ level: v.picklist(["info", "warn"]), text: v.string() });
type Notice = v.InferOutput<typeof Notice>;
const history: Notice[] = [];
const online = new Map<string, Connection>(); // who is on which connection

const news = router({
  // An event has a schema and no handler: the server pushes it, clients subscribe to it.
  notice: event(Notice),
  // Events are not stored: a client signs in, and gets what it missed.
  signIn: unary({ input: v.object({ user: v.string() }), output: v.array(Notice) }, ({ user }, ctx) => {
    online.set(user, ctx.connection);
    return history;
  }),
});

const server = new Server();
const served = serve(news, server); // served.emit.notice(...) pushes to every connection

/** Pushes a notice to everyone connected now, and keeps it for those who come later. */
function announce(notice: Notice) {
  history.push(notice);
  const sent = served.emit.notice(notice); // validated once, then one push frame per connection
  console.log(`[server] pushed "${notice.text}" to ${sent} clients`);
}
announce({ level: "info", text: "server started" });

const listener = await listen(server, { port: 0 });

// ---- client side: three clients, two ways to subscribe ------------------------------
type NewsClient = Client<typeof news>;

/** Walks the events with `for await`; leaving the loop ends the subscription. */
async function readWithForAwait(user: string, client: NewsClient) {
  for await (const notice of client.notice.subscribe()) {
    console.log(`[${user}] ${notice.level}: ${notice.text}`);
    if (notice.text === "going down") break;
  }
}

/** Passes a callback instead; subscribe then returns the function that unsubscribes. */
function readWithCallback(user: string, client: NewsClient) {
  return new Promise<void>((resolve) => {
    const unsubscribe = client.notice.subscribe((notice) => {
      console.log(`[${user}] ${notice.level}: ${notice.text}`);
      if (notice.text === "going down") {
        unsubscribe();
        resolve();
      }
    });
  });
}

/** Connects, subscribes, then signs in (in that order, so no notice falls in between). */
async function follow(user: string, read: (user: string, client: NewsClient) => Promise<void>) {
  const connection = await connect({ port: listener.port });
  const client = createClient<typeof news>(connection);
  const done = read(user, client);
  const missed = await client.signIn({ user });
  console.log(`[${user}] caught up: ${missed.map((notice) => notice.text).join(", ")}`);
  return { connection, done };
}

const followers = await Promise.all([
  follow("ana", readWithForAwait),
  follow("ben", readWithCallback),
  follow("cy", readWithCallback),
]);

// All three have signed in: push to everyone, then to cy alone.
announce({ level: "info", text: "v2 deployed" });
served.emitTo(online.get("cy")!).notice({ level: "info", text: "cy, your export is ready" });
announce({ level: "warn", text: "going down" });

for (const { connection, done } of followers) {
  await done;
  await connection.close();
}
await server.close();
console.log("done");
