/**
 * One instance for the cluster bench (cluster.ts), on the runtime it is started with: a weft
 * Server serving servers/cluster_routes.ts with a Redis broker (retention large enough that a
 * burst never outruns a subscriber into a gap) and registered in a Redis registry while it
 * listens on 127.0.0.1, port 0. Argv: Redis URL, key prefix, service, instance id, lease in ms,
 * events retained. Prints `PORT <n>`; exits when its parent does (stdin EOF) or at SIGKILL.
 *
 * Its registry is wrapped to note when the registration starts, and `whoami` notes its first
 * call: both in this process's clock, so the bench's join time has no clock skew in it.
 */
import process from "node:process";
import { type Registry, Server } from "../../mod.ts";
import { redisBroker, redisRegistry } from "../../adapters/redis.ts";
import { serve, type Served } from "../../src/typed/mod.ts";
import { loadAdapter } from "../harness/adapters.ts";
import { announcePort, exitWithParent } from "../harness/children.ts";
import { HOST } from "../harness/runtime.ts";
import { type ClusterRoutes, clusterRoutes, now } from "./cluster_routes.ts";

const [url, prefix, service, id, ttl, retained] = process.argv.slice(2);
const report = (error: unknown) => console.error(`cluster_instance ${id}:`, error instanceof Error ? error.message : error);
const { listen } = await loadAdapter();
const broker = await redisBroker({ url, prefix, retention: { maxEvents: Number(retained) }, onError: report });
const inner = await redisRegistry({ url, prefix, onError: report });
const stamps = { registeredAt: 0, firstCallAt: 0 };
const registry: Registry = {
  register: (instance, options) => {
    stamps.registeredAt ||= now();
    return inner.register(instance, options);
  },
  list: (name) => inner.list(name),
  watch: (name, options) => inner.watch(name, options),
  close: () => inner.close(),
};
const server = new Server({ registration: { registry, service, id, ttlMs: Number(ttl), onError: report } });
const served: Served<ClusterRoutes> = serve(clusterRoutes(id, (tick) => served.emit.tick(tick), stamps), server, { broker: { broker, onError: report } });
const listener = await listen(server, { hostname: HOST, port: 0 });
await served.ready;
announcePort(listener.port);
exitWithParent();
