/**
 * Unary: one request, one typed reply.
 *   npm run example:hello      (or: bun examples/typed/hello.ts, deno run -A examples/typed/hello.ts)
 */
import * as v from "valibot";
import { RpcError, Server } from "../../mod.ts";
import { createClient, router, serve, unary } from "../../src/typed/mod.ts";
import { connect, listen } from "../adapter.ts";

// ---- server side --------------------------------------------------------------------
// The schemas are the contract: the server validates every input before the handler runs,
// so the handler can trust `name` is a non-empty string.
const greeter = router({
  hello: unary(
    { input: v.object({ name: v.pipe(v.string(), v.minLength(1)) }), output: v.string() },
    ({ name }) => `hello, ${name}`,
  ),
});

const server = new Server();
serve(greeter, server);
const listener = await listen(server, { port: 0 }); // port 0: the system picks a free one
console.log(`[server] listening on ${listener.hostname}:${listener.port}`);

// ---- client side --------------------------------------------------------------------
// Only the router's *type* is used here: in an app this is `import type { greeter } from
// "./server.ts"`, so no server code ends up in the client.
const connection = await connect({ port: listener.port });
const client = createClient<typeof greeter>(connection);

// Typed both ways: `reply` is a string, and `{ name: 42 }` would not compile.
const reply = await client.hello({ name: "weft" });
console.log(`[client] ${reply}`);

// A bad input never reaches the handler: the server answers invalid_argument, with
// valibot's issues in the error's details.
try {
  await client.hello({ name: "" });
} catch (error) {
  if (!(error instanceof RpcError)) throw error;
  console.log(`[client] refused: ${error.code}: ${error.message}`);
}

await connection.close();
await server.close(); // also stops the listener
console.log("done");
