/**
 * The server calls the client, mid-call: before deploying, the server's handler asks the
 * client that called it to confirm, and waits for the answer.
 *   npm run example:confirm    (or: bun examples/typed/confirm.ts, deno run -A examples/typed/confirm.ts)
 */
import * as v from "valibot";
import { RpcError, Server } from "../../mod.ts";
import { createClient, router, serve, unary } from "../../src/typed/mod.ts";
import { connect, listen } from "../adapter.ts";

// ---- client side: the router the client serves --------------------------------------
// A client can serve procedures too, on its own connection. The server only needs this
// router's type (in an app: `import type { prompts } from "./client.ts"`).
const prompts = router({
  confirm: unary({ input: v.object({ question: v.string() }), output: v.boolean() }, ({ question }) => {
    const yes = !question.includes("friday"); // this client's policy: no deploys on a friday
    console.log(`[client] the server asks "${question}" -> ${yes ? "yes" : "no"}`);
    return yes;
  }),
});

// ---- server side --------------------------------------------------------------------
const deployer = router({
  deploy: unary(
    { input: v.object({ version: v.string(), day: v.string() }), output: v.string() },
    async (input, ctx) => {
      // ctx.connection is the connection this call came in on: a typed client over it calls
      // the router that client serves, while this call waits for the answer.
      const caller = createClient<typeof prompts>(ctx.connection);
      console.log(`[server] deploy ${input.version}: asking the client first`);
      // A timeout, so a client that never answers cannot hold the deploy forever.
      const ok = await caller.confirm({ question: `deploy ${input.version} on ${input.day}?` }, { timeout: 5000 });
      if (!ok) throw new RpcError("aborted", `the client declined ${input.version}`);
      return `${input.version} is live`;
    },
  ),
});

const server = new Server();
serve(deployer, server);
const listener = await listen(server, { port: 0 });

// ---- client side: connect, serve, call ----------------------------------------------
const connection = await connect({ port: listener.port });
serve(prompts, connection); // answer the server's calls on this connection
const client = createClient<typeof deployer>(connection);

console.log(`[client] ${await client.deploy({ version: "v2", day: "tuesday" })}`);
try {
  await client.deploy({ version: "v3", day: "friday" });
} catch (error) {
  if (!(error instanceof RpcError)) throw error;
  console.log(`[client] deploy failed: ${error.code}: ${error.message}`);
}

await connection.close();
await server.close();
console.log("done");
