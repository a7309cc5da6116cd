/**
 * The demo's first half: typed procedures, the API most applications use. One router on the
 * server, one on the client (which the server calls back), a typed client, and each shape
 * in turn. Run by examples/demo.ts.
 */
import * as v from "valibot";
import { RpcError, Server } from "../mod.ts";
import { bidi, clientStream, createClient, event, router, serve, serverStream, unary } from "../src/typed/mod.ts";
import { connect, listen } from "./adapter.ts";

/** What the browser, the app or the other service calls. */
const api = router({
  hello: unary({ input: v.object({ name: v.pipe(v.string(), v.minLength(1)) }), output: v.string() }, ({ name }) => `hello, ${name}`),
  ticker: serverStream({ input: v.object({ count: v.number() }), output: v.number() }, async function* ({ count }, ctx) {
    for (let i = 1; i <= count && !ctx.signal.aborted; i++) yield i;
  }),
  sum: clientStream({ input: v.number(), output: v.number() }, async (numbers) => {
    let total = 0;
    for await (const n of numbers) total += n;
    return total;
  }),
  shout: bidi({ input: v.string(), output: v.string() }, async function* (lines) {
    for await (const line of lines) yield line.toUpperCase();
  }),
  deploy: unary({ input: v.string(), output: v.string() }, async (version, ctx) => {
    // The server calls the client that called it, on the same connection, typed both ways.
    const caller = createClient<typeof clientApi>(ctx.connection);
    return (await caller.confirm({ question: `deploy ${version}?` })) ? `deployed ${version}` : "not deployed";
  }),
  notice: event(v.object({ text: v.string() })),
});

/** What the client serves on its own connection, for the server to call. */
const clientApi = router({
  confirm: unary({ input: v.object({ question: v.string() }), output: v.boolean() }, ({ question }) => {
    step(`    (the client was asked "${question}" and said yes)`);
    return true;
  }),
});

function step(line: string): void {
  console.log(`  ${line}`);
}

export async function typedTour(): Promise<void> {
  const server = new Server();
  const served = serve(api, server);
  const listener = await listen(server, { port: 0 });

  const connection = await connect({ port: listener.port });
  serve(clientApi, connection);
  // In an app: `import type { api } from "./server.ts"`; no server code reaches the client.
  const client = createClient<typeof api>(connection);

  step(`1. unary: await client.hello({ name: "ada" }) -> "${await client.hello({ name: "ada" })}"`);

  try {
    await client.hello({ name: "" });
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    step(`2. a bad input is refused before the handler runs -> ${error.code}: ${error.message}`);
  }

  const ticks: number[] = [];
  for await (const tick of client.ticker({ count: 3 })) ticks.push(tick);
  step(`3. server stream: for await (const tick of client.ticker({ count: 3 })) -> ${ticks.join(", ")}`);

  async function* numbers() {
    yield* [1, 2, 3];
  }
  step(`4. client stream: await client.sum(numbers()) -> ${await client.sum(numbers())}`);

  async function* lines() {
    yield* ["hi", "bye"];
  }
  const shouted: string[] = [];
  for await (const line of client.shout(lines())) shouted.push(line);
  step(`5. both ways at once: client.shout(lines()) -> ${shouted.join(", ")}`);

  const noticed = new Promise<string>((resolve) => {
    const unsubscribe = client.notice.subscribe((notice) => {
      unsubscribe();
      resolve(notice.text);
    });
  });
  const sent = served.emit.notice({ text: "maintenance at noon" });
  step(`6. an event: served.emit.notice(...) went to ${sent} connection; the subscriber got "${await noticed}"`);

  step(`7. the server calls the client mid-call: await client.deploy("v2") ->`);
  step(`   "${await client.deploy("v2")}"`);

  await connection.close();
  await server.close();
}
