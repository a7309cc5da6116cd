/**
 * A channel's endpoints from a registry: `createChannel({ registry, service: "orders" })`.
 * The channel watches the service's instances and follows them: a new instance gets
 * traffic as soon as the registry tells, one that left (or whose lease ran out) is drained.
 * The registry's `watch` gives the whole set after each change, so a channel that falls
 * behind skips straight to the latest set.
 */
import type { Instance, Registry } from "../cluster/registry.ts";

/** Where a channel finds its endpoints in a registry. */
export interface RegistrySource {
  readonly registry: Registry;
  /** The service whose instances the channel calls. */
  readonly service: string;
  /**
   * The endpoint to call an instance at, or undefined to leave it out (another version, a far
   * zone). Default: its first endpoint.
   */
  readonly select?: (instance: Instance) => string | undefined;
}

/** True when `source` names a registry rather than endpoints. */
export function isRegistrySource(source: unknown): source is RegistrySource {
  return typeof source === "object" && source !== null && !Array.isArray(source) && "registry" in source;
}

/** The endpoints of `instances`, by `select` or else each one's first. */
export function endpointsOf(instances: readonly Instance[], select?: RegistrySource["select"]): string[] {
  const endpoints: string[] = [];
  for (const instance of instances) {
    const endpoint = select === undefined ? instance.endpoints[0] : select(instance);
    if (endpoint !== undefined) endpoints.push(endpoint);
  }
  return endpoints;
}

/**
 * Applies the service's instances to `apply` as they change, until `signal` aborts. A watch
 * that fails (the registry's server is away) is reported and started again after `retryMs`;
 * meanwhile the channel keeps the endpoints it has.
 */
export async function followRegistry(
  source: RegistrySource,
  apply: (endpoints: string[]) => void,
  onError: (error: unknown) => void,
  signal: AbortSignal,
  retryMs = 1000,
): Promise<void> {
  while (!signal.aborted) {
    try {
      for await (const instances of source.registry.watch(source.service, { signal })) {
        apply(endpointsOf(instances, source.select));
      }
    } catch (error) {
      if (signal.aborted) return;
      onError(error);
    }
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, retryMs);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
