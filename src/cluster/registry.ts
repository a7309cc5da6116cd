/**
 * What a registry is: instances of a service say where they can be reached, under a lease
 * they keep renewing, and clients list and watch them as they come and go. An instance that
 * leaves gracefully deregisters at once; one that dies stops renewing and disappears when its
 * lease runs out. `MemoryRegistry` is the default (one process); `@weft/rpc/redis` shares one
 * across processes.
 */

/** What an instance tells about itself beyond its endpoints; values must survive JSON. */
export interface InstanceMetadata {
  /** The version it runs, for clients that pick by version. */
  readonly version?: string;
  /** Where it runs (a zone, a region), for clients that prefer a near one. */
  readonly zone?: string;
  /** Its share of traffic relative to other instances (default 1). */
  readonly weight?: number;
  readonly [key: string]: unknown;
}

/** One instance of a service. */
export interface Instance {
  /** The service's name: what clients look it up by. */
  readonly service: string;
  /** Unique among the service's instances; registering the same id again replaces the entry. */
  readonly id: string;
  /** Where to reach it: endpoint strings as channels take them (`tcp://host:port`, `ws://...`). */
  readonly endpoints: readonly string[];
  readonly metadata?: InstanceMetadata;
}

/** How long a registration lives without renewal. */
export interface RegisterOptions {
  /** The lease, in ms: a registration not renewed for this long is gone. It renews itself every third of it. */
  readonly ttlMs: number;
}

/** A live registration: renews its lease by itself until `deregister()` or its registry's `close()`. */
export interface Registration {
  readonly instance: Instance;
  /** Leaves the registry now (watchers see the change); stops renewing. */
  deregister(): Promise<void>;
}

/** How a watch ends. */
export interface WatchOptions {
  /** Ends the watch: the iterator returns. */
  readonly signal?: AbortSignal;
}

/** Register instances under a lease; list and watch them. */
export interface Registry {
  /** Registers `instance` with a lease of `ttlMs`, renewed by the returned registration. */
  register(instance: Instance, options: RegisterOptions): Promise<Registration>;
  /** The service's live instances (leases not run out), ordered by id. */
  list(service: string): Promise<Instance[]>;
  /**
   * The service's instances as they change: the current set first, then the whole set again
   * after each change (a consumer that falls behind gets the latest set, not every step).
   * Ends when `signal` aborts or the registry closes.
   */
  watch(service: string, options?: WatchOptions): AsyncIterable<Instance[]>;
  /**
   * Ends every watch and releases the registry's resources. Registrations made through it stop
   * renewing without deregistering: they lapse when their leases run out, as a crashed
   * process's do. Deregister first for a prompt leave.
   */
  close(): Promise<void>;
}
