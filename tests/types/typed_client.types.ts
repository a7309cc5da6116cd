/**
 * Type-level tests of the typed layer: compiled by `npx tsc -p .` (and never run). Each
 * `@ts-expect-error` must be needed: tsc fails with "Unused '@ts-expect-error' directive"
 * if the line under it compiles, so a type that got looser fails the build. The positive
 * lines must compile as they are.
 */
import * as v from "valibot";
import type { Connection, Metadata, Server } from "../../mod.ts";
import {
  bidi,
  clientStream,
  type Client,
  type Context,
  createClient,
  event,
  implement,
  type Middleware,
  procedures,
  type ReplyStream,
  router,
  serve,
  serverStream,
  type Subscription,
  type UnaryCall,
  unary,
} from "../../src/typed/mod.ts";

/** true when A and B are the same type (not just mutually assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<T extends true>(_?: T): void {}

declare const connection: Connection;
declare const server: Server;

const User = v.object({ id: v.number(), name: v.string(), tags: v.optional(v.array(v.string())) });
type User = v.InferOutput<typeof User>;

const routes = router({
  hello: unary({ input: v.object({ name: v.string() }), output: v.string() }, ({ name }) => `hello ${name}`),
  ping: unary({ input: v.optional(v.undefined()), output: v.literal("pong") }, () => "pong"),
  users: {
    get: unary({ input: v.number(), output: User }, (id) => Promise.resolve({ id, name: "ann", tags: ["a"] })),
    list: serverStream({ input: v.object({ limit: v.number() }), output: User }, async function* ({ limit }) {
      for (let id = 0; id < limit; id++) yield { id, name: `user ${id}` };
    }),
  },
  // The input's transform: callers send a string, the handler gets a number.
  parse: unary({ input: v.pipe(v.string(), v.transform(Number)), output: v.number() }, (n) => n + 1),
  sum: clientStream({ input: v.number(), output: v.number() }, async (inputs) => {
    let total = 0;
    for await (const n of inputs) total += n;
    return total;
  }),
  chat: bidi({ input: v.object({ text: v.string() }), output: v.object({ from: v.string(), text: v.string() }) }, (inputs) =>
    inputs.readable.pipeThrough(
      new TransformStream<{ text: string }, { from: string; text: string }>({
        transform: (message, controller) => controller.enqueue({ from: "server", text: message.text }),
      }),
    )),
  notice: event(v.object({ text: v.string(), level: v.picklist(["info", "warn"]) })),
  feed: {
    item: event(v.number()),
  },
});

const client = createClient<typeof routes>(connection);

// ---- positive: these compile and have exactly these types --------------------------------

const greeting = client.hello({ name: "bob" });
assertType<Equal<typeof greeting, UnaryCall<string>>>();
const greetingText: Promise<string> = greeting;
const pong = client.ping();
assertType<Equal<typeof pong, UnaryCall<"pong">>>();
const user = client.users.get(1, { timeout: 1000, metadata: { trace: "t" } });
assertType<Equal<Awaited<typeof user>, User>>();
const parsed = client.parse("41");
assertType<Equal<typeof parsed, UnaryCall<number>>>();
const list = client.users.list({ limit: 3 });
assertType<Equal<typeof list, ReplyStream<User>>>();
const listReadable: ReadableStream<User> = list.readable;
const replyMetadata: Promise<Readonly<Metadata>> = list.metadata;

async function positives(): Promise<void> {
  const text: string = await client.hello({ name: "ann" });
  const u: User = await client.users.get(2);
  const id: number = u.id;
  for await (const listed of client.users.list({ limit: 2 })) {
    assertType<Equal<typeof listed, User>>();
  }
  async function* numbers() {
    yield 1;
    yield 2;
  }
  const total: number = await client.sum(numbers());
  const fromStream: number = await client.sum(new ReadableStream<number>());
  for await (const message of client.chat(new ReadableStream<{ text: string }>())) {
    assertType<Equal<typeof message, { from: string; text: string }>>();
  }
  client.notice.subscribe((notice) => {
    assertType<Equal<typeof notice, { text: string; level: "info" | "warn" }>>();
  });
  const unsubscribe: () => void = client.feed.item.subscribe((n) => {
    assertType<Equal<typeof n, number>>();
  });
  const subscription = client.feed.item.subscribe();
  assertType<Equal<typeof subscription, Subscription<number>>>();
  for await (const n of subscription) {
    const _item: number = n;
  }
  void [text, id, total, fromStream, unsubscribe];
}

const served = serve(routes, server);
const sentTo: number = served.emit.notice({ text: "hi", level: "warn" });
served.emit.feed.item(3);
served.emitTo(connection).feed.item(4);

// A client is a type of the router alone; a contract (no handlers) types it the same way.
const contract = router({
  hello: unary({ input: v.object({ name: v.string() }), output: v.string() }),
  stream: serverStream({ input: v.number(), output: v.number() }),
});
const fromContract = createClient(connection, { contract });
const fromContractCall: UnaryCall<string> = fromContract.hello({ name: "x" });
const implemented = implement(contract, {
  hello: ({ name }) => name,
  stream: async function* (n) {
    yield n;
  },
});
const implementedClient: Client<typeof implemented> = createClient<typeof implemented>(connection);
const implementedCall: UnaryCall<string> = implementedClient.hello({ name: "y" });

// A context that middleware extends, read by handlers.
type Authed = Context & { user: string };
const authed = procedures<Authed>();
const auth: Middleware<Authed> = (ctx, next) => {
  ctx.user = String(ctx.metadata["authorization"]);
  return next();
};
const authedRoutes = router({
  whoami: authed.unary({ input: v.optional(v.undefined()), output: v.string() }, (_, ctx) => ctx.user),
});
serve(authedRoutes, server, { middleware: [auth] });

// ---- negative: each of these must be a type error -----------------------------------------

// @ts-expect-error wrong input type: name must be a string
client.hello({ name: 42 });
// @ts-expect-error wrong input type: a number, not a string
client.users.get("1");
// @ts-expect-error missing required input
client.hello();
// @ts-expect-error missing required field in the input
client.hello({});
// @ts-expect-error an unknown field in the input
client.hello({ name: "x", extra: true });
// @ts-expect-error the input before its transform is a string, not the number the handler sees
client.parse(41);
// @ts-expect-error a unary result is a Promise of the output type, not of something else
const wrongResult: Promise<number> = client.hello({ name: "x" });
// @ts-expect-error a unary call is not a stream to walk
const notIterable: AsyncIterable<string> = client.hello({ name: "x" });
// @ts-expect-error a server stream yields User, not string
const wrongItems: AsyncIterable<string> = client.users.list({ limit: 1 });
// @ts-expect-error a server stream is walked, not awaited
const notAwaitable: Promise<User> = client.users.list({ limit: 1 });
// @ts-expect-error a client stream takes an AsyncIterable or ReadableStream, not one value
client.sum(1);
// @ts-expect-error a client stream takes an AsyncIterable or ReadableStream, not an array
client.sum([1, 2]);
// @ts-expect-error a client stream's items must have the input type
client.sum(new ReadableStream<string>());
// @ts-expect-error a bidi call takes a stream of inputs
client.chat({ text: "hi" });
// @ts-expect-error an unknown procedure
client.nope();
// @ts-expect-error an unknown nested procedure
client.users.remove(1);
// @ts-expect-error an event is not callable
client.notice({ text: "x", level: "info" });
// @ts-expect-error a procedure cannot be subscribed to
client.hello.subscribe(() => {});
// @ts-expect-error emit with wrong data
served.emit.notice({ text: "hi", level: "error" });
// @ts-expect-error emit with missing data
served.emit.feed.item();
// @ts-expect-error emit of something that is not an event
served.emit.hello({ name: "x" });
// @ts-expect-error an unknown option
client.hello({ name: "x" }, { timeoutMs: 5 });

client.notice.subscribe((notice) => {
  // @ts-expect-error the event's data has no such field
  notice.missing;
  // @ts-expect-error level is "info" | "warn", not any string
  const _level: "info" = notice.level;
});
const items = client.feed.item.subscribe();
async function subscriptionItems(): Promise<void> {
  for await (const n of items) {
    // @ts-expect-error the subscription yields numbers
    const _s: string = n;
  }
}

router({
  // @ts-expect-error a unary handler returning the wrong type
  bad: unary({ input: v.string(), output: v.number() }, (s) => s),
});
router({
  // @ts-expect-error an async handler resolving to the wrong type
  bad: unary({ input: v.string(), output: v.object({ id: v.number() }) }, () => Promise.resolve({ id: "1" })),
});
router({
  // @ts-expect-error a server-stream handler yielding the wrong type
  bad: serverStream({ input: v.string(), output: v.number() }, async function* (s) {
    yield s;
  }),
});
router({
  // @ts-expect-error a client-stream handler gets a stream, not a value
  bad: clientStream({ input: v.number(), output: v.number() }, (n: number) => n),
});
router({
  // @ts-expect-error a handler reading a property its context does not have
  bad: unary({ input: v.string(), output: v.string() }, (_, ctx) => ctx.user),
});
implement(contract, {
  // @ts-expect-error an implementation's handler must match the contract
  hello: ({ name }) => name.length,
  stream: async function* (n) {
    yield n;
  },
});
// @ts-expect-error an implementation without all of its handlers
implement(contract, { hello: ({ name }) => name });

void [greetingText, listReadable, replyMetadata, sentTo, fromContractCall, implementedCall, positives, subscriptionItems];
void [wrongResult, notIterable, wrongItems, notAwaitable];
