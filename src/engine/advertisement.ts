/**
 * A Server in a registry while it listens: registered when its first listener starts (with
 * every listener's endpoint, or the endpoints it was given), registered again when its
 * listeners change, and deregistered when it closes, before it stops accepting, so clients
 * that follow the registry move away while it drains. A server that dies is not deregistered:
 * its lease runs out. Registry failures never reach the server's callers: they go to
 * `onError`, and the lease keeps retrying on its own.
 */
import type { InstanceMetadata, Registration, Registry } from "../cluster/registry.ts";

/** `ServerOptions.registration`: where and as what a server registers while it listens. */
export interface ServerRegistration {
  readonly registry: Registry;
  /** The service it is an instance of. */
  readonly service: string;
  /** Its id among the service's instances (default: a random UUID per Server). */
  readonly id?: string;
  readonly metadata?: InstanceMetadata;
  /** The lease, in ms (default 10 s): how long a crashed server stays listed. */
  readonly ttlMs?: number;
  /**
   * What clients dial (default: each listener's own endpoint, e.g. `tcp://127.0.0.1:7000`).
   * Give them when listening on a wildcard address (0.0.0.0, ::) or behind a proxy.
   */
  readonly endpoints?: readonly string[];
  /** Registrations and deregistrations that failed. */
  readonly onError?: (error: unknown) => void;
}

/** The default lease of a server's registration. */
export const DEFAULT_SERVER_TTL_MS = 10_000;

/** Keeps a server's registration in step with its listeners. */
export class Advertisement {
  readonly #options: ServerRegistration;
  readonly #id: string;
  /** Each change waits for the one before, so registrations never race. */
  #current: Promise<Registration | undefined> = Promise.resolve(undefined);
  #closed = false;

  constructor(options: ServerRegistration) {
    this.#options = options;
    this.#id = options.id ?? crypto.randomUUID();
  }

  /** The server's listeners now have these endpoints (none: it stopped listening). */
  listening(endpoints: readonly string[]): void {
    const advertised = [...(this.#options.endpoints ?? endpoints)];
    const onError = this.#options.onError ?? (() => {});
    this.#current = this.#current.then(async (previous) => {
      if (this.#closed) return previous;
      let next: Registration | undefined;
      if (endpoints.length > 0) {
        const { registry, service, metadata, ttlMs } = this.#options;
        const instance = { service, id: this.#id, endpoints: advertised, ...(metadata === undefined ? {} : { metadata }) };
        next = await registry.register(instance, { ttlMs: ttlMs ?? DEFAULT_SERVER_TTL_MS }).catch((error) => {
          onError(error);
          return undefined;
        });
        if (next === undefined) return previous; // keep the old one renewing
      }
      // The same id registered again replaced the old entry; this stops the old renewals.
      await previous?.deregister().catch(onError);
      return next;
    });
  }

  /** Deregisters (once); later changes register nothing. */
  close(): Promise<void> {
    if (this.#closed) return this.#current.then(() => {});
    this.#closed = true;
    const onError = this.#options.onError ?? (() => {});
    return this.#current.then((registration) => registration?.deregister()).catch(onError);
  }
}
