/**
 * The router of the cluster bench's instances (servers/cluster_instance.ts), which the bench
 * (cluster.ts) calls: events stamped with the publisher's clock, a procedure that emits a run
 * of them, and the instance's own timestamps for the registry's reaction times.
 */
import * as v from "valibot";
import { event, router, unary } from "../../src/typed/mod.ts";

/** One emitted event: its number in the run and when it was emitted (the publisher's `now()`). */
export const Tick = v.object({ n: v.number(), t: v.number() });
export type Tick = v.InferOutput<typeof Tick>;

/**
 * Milliseconds on a clock every process on this machine shares (to within its clock's
 * resolution): the wall-clock time of the process's start plus the time since.
 */
export const now = (): number => performance.timeOrigin + performance.now();

/**
 * What an instance tells about its registration, in its own clock (`now()`; 0: not yet): when
 * it started registering, and when the first `whoami` reached it.
 */
export const Stamps = v.object({ registeredAt: v.number(), firstCallAt: v.number() });
export type Stamps = v.InferOutput<typeof Stamps>;

/** The router of one instance; `emit` is its served router's `emit.tick`; it keeps `stamps.firstCallAt`. */
export function clusterRoutes(id: string, emit: (tick: Tick) => number, stamps: Stamps) {
  return router({
    tick: event(Tick),
    /** The instance's id: the call the bench's channel keeps making. */
    whoami: unary({ input: v.optional(v.undefined()), output: v.string() }, () => {
      stamps.firstCallAt ||= now();
      return id;
    }),
    stamps: unary({ input: v.optional(v.undefined()), output: Stamps }, () => stamps),
    /**
     * Emits `count` ticks numbered 0..: `perSecond` 0 as fast as it can (yielding to the event
     * loop every 256, so the sockets drain), else paced at that rate. Answers how many.
     */
    blast: unary({ input: v.object({ count: v.number(), perSecond: v.number() }), output: v.number() }, async ({ count, perSecond }) => {
      const start = now();
      for (let n = 0; n < count;) {
        const due = perSecond === 0 ? Math.min(count, n + 256) : Math.min(count, Math.floor(((now() - start) * perSecond) / 1000) + 1);
        for (; n < due; n++) emit({ n, t: now() });
        await new Promise((resolve) => setTimeout(resolve, perSecond === 0 ? 0 : 1));
      }
      return count;
    }),
  });
}

export type ClusterRoutes = ReturnType<typeof clusterRoutes>;
