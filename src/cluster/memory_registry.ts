/**
 * The default registry: one process, no server. Entries carry the time their lease runs out;
 * an entry past it is gone for every reader (it is dropped when next read, and a watch sleeps
 * only until the next lease would run out, so it sees a lapse when it happens without a timer
 * per entry). Registrations renew with a `Lease` like any other registry's.
 *
 * Several handles can share one set of entries (`new MemoryRegistry({ sharing })`), as
 * several processes share a Redis: each part of a program (a Server, a test) registers and
 * watches through its own handle and closes it on its own.
 */
import { RpcError } from "../common/errors.ts";
import { Bell } from "./bell.ts";
import { Lease, leaseProblem } from "./lease.ts";
import type { Instance, RegisterOptions, Registration, Registry, WatchOptions } from "./registry.ts";
import { sameInstances, sortedInstances } from "./instances.ts";

interface Entry {
  readonly instance: Instance;
  expires: number;
  /** Which registration put it there: an older one must not renew or remove a newer one's entry. */
  readonly owner: object;
}

/** Entries by service and id, shared by the handles made over it. */
class Entries {
  readonly #services = new Map<string, Map<string, Entry>>();
  readonly #bells = new Map<string, Bell>();

  put(instance: Instance, ttlMs: number, owner: object): void {
    let entries = this.#services.get(instance.service);
    if (entries === undefined) this.#services.set(instance.service, entries = new Map());
    entries.set(instance.id, { instance, expires: Date.now() + ttlMs, owner });
    this.bell(instance.service).ring();
  }

  /**
   * Extends the owner's lease. An entry that lapsed (the owner was too late, but is alive)
   * is put back; one a newer registration of the same id replaced is left alone.
   */
  renew(instance: Instance, ttlMs: number, owner: object): void {
    const entry = this.#services.get(instance.service)?.get(instance.id);
    if (entry === undefined || entry.expires <= Date.now()) this.put(instance, ttlMs, owner);
    else if (entry.owner === owner) entry.expires = Date.now() + ttlMs;
  }

  remove(instance: Instance, owner: object): void {
    const entries = this.#services.get(instance.service);
    if (entries?.get(instance.id)?.owner !== owner) return;
    entries.delete(instance.id);
    if (entries.size === 0) this.#services.delete(instance.service);
    this.bell(instance.service).ring();
  }

  /** The live instances of `service`, and when the soonest of their leases runs out. */
  live(service: string): { instances: Instance[]; nextExpiry: number } {
    const entries = this.#services.get(service);
    const now = Date.now();
    let nextExpiry = Infinity;
    const instances: Instance[] = [];
    for (const [id, entry] of entries ?? []) {
      if (entry.expires <= now) entries!.delete(id);
      else {
        instances.push(entry.instance);
        nextExpiry = Math.min(nextExpiry, entry.expires);
      }
    }
    if (entries?.size === 0) this.#services.delete(service);
    return { instances: sortedInstances(instances), nextExpiry };
  }

  bell(service: string): Bell {
    let bell = this.#bells.get(service);
    if (bell === undefined) this.#bells.set(service, bell = new Bell());
    return bell;
  }
}

/** Options of `MemoryRegistry`. */
export interface MemoryRegistryOptions {
  /** Another handle whose entries this one shares (default: entries of its own). */
  readonly sharing?: MemoryRegistry;
}

/** A `Registry` within one process. */
export class MemoryRegistry implements Registry {
  readonly #entries: Entries;
  readonly #closing = new AbortController();
  readonly #leases = new Set<Lease>();

  constructor(options: MemoryRegistryOptions = {}) {
    const sharing = options.sharing;
    this.#entries = sharing === undefined ? new Entries() : sharing.#entries;
  }

  register(instance: Instance, options: RegisterOptions): Promise<Registration> {
    const problem = leaseProblem(options?.ttlMs);
    if (problem !== null) return Promise.reject(new TypeError(problem));
    if (this.#closing.signal.aborted) return Promise.reject(new RpcError("unavailable", "the registry is closed"));
    const owner = {};
    const copy: Instance = structuredClone(instance);
    this.#entries.put(copy, options.ttlMs, owner);
    const lease: Lease = new Lease(options.ttlMs, () => {
      this.#entries.renew(copy, options.ttlMs, owner);
      return Promise.resolve();
    }, () => {});
    this.#leases.add(lease);
    return Promise.resolve({
      instance: copy,
      deregister: () => {
        lease.stop();
        this.#leases.delete(lease);
        this.#entries.remove(copy, owner);
        return Promise.resolve();
      },
    });
  }

  list(service: string): Promise<Instance[]> {
    if (this.#closing.signal.aborted) return Promise.reject(new RpcError("unavailable", "the registry is closed"));
    return Promise.resolve(this.#entries.live(service).instances);
  }

  watch(service: string, options: WatchOptions = {}): AsyncIterable<Instance[]> {
    return this.#watch(service, options);
  }

  close(): Promise<void> {
    this.#closing.abort();
    for (const lease of this.#leases) lease.stop();
    this.#leases.clear();
    return Promise.resolve();
  }

  async *#watch(service: string, options: WatchOptions): AsyncGenerator<Instance[]> {
    const signal = options.signal === undefined ? this.#closing.signal : AbortSignal.any([options.signal, this.#closing.signal]);
    let last: Instance[] | undefined;
    while (!signal.aborted) {
      const { instances, nextExpiry } = this.#entries.live(service);
      if (last === undefined || !sameInstances(last, instances)) {
        last = instances;
        yield instances;
        continue; // the consumer took its time: look again before sleeping
      }
      await this.#entries.bell(service).wait(signal, nextExpiry - Date.now());
    }
  }
}
