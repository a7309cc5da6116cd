/**
 * The page's code: bundled for the browser by server.ts (esbuild, platform "browser") and
 * served as /client.js. It connects to the page's own origin over WebSocket and goes
 * through four modes with the typed client, writing each result into the page and into
 * `window.weftResults`.
 */
import * as v from "valibot";
import { connectWebSocket } from "../../src/transports/websocket_client.ts";
import { createClient, router, serve, unary } from "../../src/typed/mod.ts";
import type { Api } from "./server.ts";

/** What the page found; the test reads it from `window.weftResults`. */
export interface Results {
  unary?: string;
  stream?: string[];
  push?: string;
  serverCall?: { question: string; answer: boolean; result: string };
  error?: string;
  done: boolean;
}

const results: Results = { done: false };
(globalThis as { weftResults?: Results }).weftResults = results;

function show(id: string, text: string): void {
  const element = document.getElementById(id);
  if (element !== null) element.textContent = text;
}

// The router this page serves on its connection: the server calls it (server.ts only
// needs its type). This page's policy: yes, except on a friday.
const prompts = router({
  confirm: unary({ input: v.object({ question: v.string() }), output: v.boolean() }, ({ question }) => {
    const answer = !question.includes("friday");
    results.serverCall = { question, answer, result: "" };
    show("serverCall", `the server asked "${question}" -> ${answer ? "yes" : "no"}`);
    return answer;
  }),
});
export type Prompts = typeof prompts;

async function main(): Promise<void> {
  // A relative URL resolves against the page's: ws://<this host>/qrpc.
  const connection = await connectWebSocket({ url: "/qrpc" });
  serve(prompts, connection); // answer the server's calls on this connection
  const api = createClient<Api>(connection);

  // (c) subscribe first, so the push the server sends once we join cannot be missed.
  const pushed = new Promise<string>((resolve) => {
    const unsubscribe = api.notice.subscribe((notice) => {
      unsubscribe();
      resolve(notice.text);
    });
  });

  // (a) a unary call
  results.unary = await api.hello({ name: "browser" });
  show("unary", results.unary);

  // (b) a server stream, walked to its end
  const ticks: string[] = [];
  for await (const { tick, of } of api.ticker({ count: 3 })) {
    ticks.push(`tick ${tick}/${of}`);
    show("stream", ticks.join("\n"));
  }
  results.stream = ticks;

  // (c) ask for a push, and wait for it
  await api.join({ user: "browser" });
  results.push = await withTimeout(pushed, 5000, "no push from the server");
  show("push", results.push);

  // (d) the server's deploy handler calls confirm() on this page before it answers
  const result = await api.deploy({ version: "v2", day: "tuesday" });
  results.serverCall = { ...results.serverCall!, result };
  show("serverCall", `${document.getElementById("serverCall")?.textContent}\nthe server replied: ${result}`);

  await connection.close();
}

function withTimeout<T>(promise: Promise<T>, ms: number, why: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${why} within ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

main().then(
  () => {
    results.done = true;
    show("status", "all four modes worked");
    document.getElementById("status")?.classList.add("ok");
  },
  (error: unknown) => {
    results.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    results.done = true;
    show("status", `failed: ${results.error}`);
    document.getElementById("status")?.classList.add("failed");
  },
);
