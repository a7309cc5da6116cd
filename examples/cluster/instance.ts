/**
 * One instance of the cluster example's service, on whichever runtime starts it (main.ts starts
 * one on Bun, one on Deno, one on Node). Argv: Redis URL, key prefix, instance name. It listens
 * on 127.0.0.1 (any free port), registers as "greeter" in the Redis registry while it listens,
 * carries its emits to the other instances on the Redis broker, prints `ready` once both are
 * set up, and on SIGTERM closes gracefully (which deregisters it).
 */
import process from "node:process";
import { Server } from "../../mod.ts";
import { redisBroker, redisRegistry } from "../../adapters/redis.ts";
import { serve, type Served } from "../../src/typed/mod.ts";
import { listen } from "../adapter.ts";
import { type GreeterApi, greeterApi } from "./api.ts";

const [url, prefix, name] = process.argv.slice(2);
const warn = (error: unknown) => console.error(`[${name}] ${error instanceof Error ? error.message : String(error)}`);

const registry = await redisRegistry({ url, prefix, onError: warn });
const broker = await redisBroker({ url, prefix, onError: warn });
// A short lease, so an instance that crashed leaves the list within 3 s.
const server = new Server({ registration: { registry, service: "greeter", id: name, ttlMs: 3000, onError: warn } });
// emit needs the served router, which needs the router: bound once both exist.
let served: Served<GreeterApi> | undefined;
served = serve(greeterApi(name, (news) => served!.emit.news(news)), server, { broker: { broker, onError: warn } });
const listener = await listen(server, { hostname: "127.0.0.1", port: 0 });
await served.ready;
console.log(`ready on 127.0.0.1:${listener.port}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.close({ timeout: 1000 }); // deregisters, lets calls in flight finish
  served?.close();
  await broker.close();
  await registry.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
// If main.ts dies without a goodbye, its pipe to us closes: go too.
process.stdin.on("close", stop);
process.stdin.resume();
