/**
 * weft's server for the benches: a Server with a cmd-level echo handler on cmd 1 (unary.ts,
 * typed.ts, and stream.ts's 1 MiB echo), a server-streaming handler on cmd 3 (stream.ts: the
 * request payload is a u32 count n, the reply is n frames of one 32-byte payload each), and
 * the typed router `typedRoutes` below (typed.ts: calls by name on cmd 0xFFFF), served by
 * this runtime's adapter on 127.0.0.1, port 0. Prints `PORT <n>` and exits when its parent
 * does (stdin EOF).
 *
 *   bun bench/weft_server.ts | deno run -A bench/weft_server.ts
 *   node --import tsx bench/weft_server.ts
 */
import * as v from "valibot";
import { Server } from "../mod.ts";
import { router, serve, unary } from "../src/typed/mod.ts";
import { announcePort, ECHO_CMD, exitWithParent, HOST, makePayload, readU32, STREAM_CMD } from "./common.ts";
import { loadAdapter } from "./adapter.ts";

/** typed.ts's input: a small record, as an application's procedures take them. */
const Item = v.object({
  id: v.number(),
  name: v.pipe(v.string(), v.minLength(1)),
  tags: v.array(v.string()),
});
/** typed.ts's output: the record back, with a version. */
const Stored = v.object({
  id: v.number(),
  name: v.pipe(v.string(), v.minLength(1)),
  tags: v.array(v.string()),
  version: v.number(),
});
type ItemValue = v.InferOutput<typeof Item>;

function store(item: ItemValue): v.InferInput<typeof Stored> {
  return { id: item.id, name: item.name, tags: item.tags, version: 1 };
}

/**
 * typed.ts's procedures: `checked` validates its input and output with the schemas above;
 * `trusted` is the same procedure with v.unknown() schemas, so the two differ only by
 * validation. Equal-length names: the frames are the same size.
 */
export const typedRoutes = router({
  checked: unary({ input: Item, output: Stored }, store),
  trusted: unary({ input: v.unknown(), output: v.unknown() }, (input) => store(input as ItemValue)),
});
export type TypedRoutes = typeof typedRoutes;

// typed.ts imports this file's types only (`import type`), so what follows runs only in the child.
const { listen } = await loadAdapter();
const server = new Server({
  onError: (error) => console.error("weft_server:", error),
});
server.handle(ECHO_CMD, (request) => request.payload);
const STREAM_PAYLOAD = makePayload();
// As an application writes it: one yield per message, each one frame.
server.handle(STREAM_CMD, async function* (request) {
  const n = readU32(request.payload);
  for (let i = 0; i < n; i++) yield STREAM_PAYLOAD;
});
serve(typedRoutes, server);
const listener = await listen(server, { hostname: HOST, port: 0 });
announcePort(listener.port);
exitWithParent();
