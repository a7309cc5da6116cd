/**
 * A channel's endpoints: one subchannel each, the picker that spreads calls over them, the
 * channel's state made from theirs, and the calls waiting for one to be ready. Endpoints can
 * be replaced while it runs (a registry's list): new ones start, gone ones drain.
 */
import { RpcError } from "../common/errors.ts";
import { startTimer, stopTimer } from "../common/timers.ts";
import type { Connection } from "../engine/api.ts";
import { type BackoffOptions, backoffOptions } from "./backoff.ts";
import type { CircuitBreakerOptions } from "./circuit_breaker.ts";
import { type Endpoint, parseEndpoint } from "./endpoint.ts";
import type { BalancePolicy } from "./picker.ts";
import { Picker } from "./picker.ts";
import type { ChannelState, ChannelStatus } from "./status.ts";
import { StatusFeed } from "./status.ts";
import { Subchannel, type SubchannelHost } from "./subchannel.ts";

export interface PoolOptions {
  dial(endpoint: Endpoint, subchannel: Subchannel): Promise<Connection>;
  balance: BalancePolicy;
  reconnect: BackoffOptions | undefined;
  breaker: CircuitBreakerOptions | false | undefined;
  onStatus: ((status: ChannelStatus) => void) | undefined;
  drainTimeout: number;
  maxWaiting: number;
  /** Asked for the endpoints again when every one is down (a function source); null: fixed list. */
  refresh: (() => void) | null;
}

interface Waiter {
  wake(): void;
}

export class Pool implements SubchannelHost {
  readonly backoff: Required<BackoffOptions>;
  readonly breaker: CircuitBreakerOptions | false;
  readonly drainTimeout: number;
  readonly picker: Picker;
  readonly feed = new StatusFeed();
  #subchannels: Subchannel[] = [];
  readonly #options: PoolOptions;
  readonly #waiters = new Set<Waiter>();
  #state: ChannelState = "idle";
  #everReady = false;
  #started = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.backoff = backoffOptions(options.reconnect);
    this.breaker = options.breaker ?? {};
    this.drainTimeout = options.drainTimeout;
    this.picker = new Picker(options.balance);
  }

  get state(): ChannelState {
    return this.#state;
  }

  get subchannels(): readonly Subchannel[] {
    return this.#subchannels;
  }

  dial(endpoint: Endpoint, subchannel: Subchannel): Promise<Connection> {
    return this.#options.dial(endpoint, subchannel);
  }

  /** Sets the endpoints: those already there keep their connection, new ones start, gone ones drain. */
  setEndpoints(urls: readonly string[]): void {
    if (this.#state === "closed") return;
    const wanted = new Map<string, Endpoint>();
    for (const url of urls) {
      const endpoint = parseEndpoint(url);
      wanted.set(endpoint.url, endpoint);
    }
    const kept: Subchannel[] = [];
    const gone: Subchannel[] = [];
    for (const subchannel of this.#subchannels) {
      if (wanted.has(subchannel.endpoint.url)) {
        kept.push(subchannel);
        wanted.delete(subchannel.endpoint.url);
      } else gone.push(subchannel);
    }
    const added = [...wanted.values()].map((endpoint) => new Subchannel(endpoint, this));
    this.#subchannels = [...kept, ...added];
    this.picker.setSubchannels(this.#subchannels);
    for (const subchannel of gone) void subchannel.close(this.#options.drainTimeout);
    if (this.#started) for (const subchannel of added) subchannel.start(); // listed first, so their states are heard
    this.#update(undefined, undefined, undefined, undefined);
  }

  /** Starts connecting every endpoint (the first call on a lazy channel does this). */
  start(): void {
    if (this.#started || this.#state === "closed") return;
    this.#started = true;
    for (const subchannel of this.#subchannels) subchannel.start();
  }

  /**
   * A usable subchannel, waiting for one up to `deadline` (performance.now() time) unless
   * `signal` aborts first. `accept` narrows the choice (broadcast waits for one endpoint).
   */
  async usable(
    deadline: number,
    signal: AbortSignal | undefined,
    pick: () => Subchannel | null,
  ): Promise<Subchannel> {
    for (;;) {
      const picked = pick();
      if (picked !== null) return picked;
      if (this.#state === "closed") throw new RpcError("unavailable", "the channel is closed", { unprocessed: true });
      this.start();
      // No endpoints at all (a source that failed or gave none): ask it again.
      if (this.#subchannels.length === 0) this.#options.refresh?.();
      if (this.#waiters.size >= this.#options.maxWaiting) {
        throw new RpcError("unavailable", `${this.#waiters.size} calls are already waiting for a connection`, { unprocessed: true });
      }
      const left = deadline - performance.now();
      if (left <= 0 || signal?.aborted) throw this.#notReady();
      // Connected, but every connected endpoint's breaker is open: fail fast, as a breaker is for.
      const connected = this.#subchannels.filter((s) => s.connection?.isOpen === true);
      if (connected.length > 0 && connected.every((s) => !s.usable)) {
        throw new RpcError("unavailable", `circuit open: ${this.#describe()}`, { unprocessed: true });
      }
      await new Promise<void>((resolve) => {
        const timer = startTimer(() => waiter.wake(), left);
        const waiter: Waiter = {
          wake: () => {
            this.#waiters.delete(waiter);
            stopTimer(timer);
            signal?.removeEventListener("abort", waiter.wake);
            resolve();
          },
        };
        this.#waiters.add(waiter);
        signal?.addEventListener("abort", waiter.wake, { once: true });
      });
    }
  }

  #notReady(): RpcError {
    return new RpcError("unavailable", `no connection ready in time (${this.#describe()})`, { unprocessed: true });
  }

  /** Each endpoint and its state, for an error message. */
  #describe(): string {
    const each = this.#subchannels.map((s) => `${s.endpoint.url} ${s.state}${s.breaker?.state === "open" ? ", breaker open" : ""}`);
    return each.length === 0 ? "no endpoints" : each.join("; ");
  }

  /** Closes every endpoint: gracefully with a timeout, or at once (null). */
  async close(timeout: number | null): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    const closing = this.#subchannels.map((s) => s.close(timeout));
    this.#wakeAll();
    this.#emit({ state: "closed" });
    this.feed.close();
    await Promise.all(closing);
  }

  /** From a subchannel: its state changed. */
  changed(subchannel: Subchannel, error: Error | undefined, retryIn: number | undefined): void {
    if (!this.#subchannels.includes(subchannel) && subchannel.state !== "closed") return;
    this.#update(subchannel, subchannel.state, error, retryIn);
    if (subchannel.state === "ready") this.#wakeAll();
    if (subchannel.state === "reconnecting" && this.#state === "reconnecting") this.#options.refresh?.();
  }

  #update(subchannel: Subchannel | undefined, endpointState: Subchannel["state"] | undefined, error?: Error, retryIn?: number): void {
    if (this.#state === "closed") return;
    this.#state = this.#aggregate();
    if (subchannel === undefined) return;
    this.#emit({ state: this.#state, endpoint: subchannel.endpoint.url, endpointState, error, retryIn });
  }

  #aggregate(): ChannelState {
    const subchannels = this.#subchannels;
    if (subchannels.some((s) => s.connection !== null)) {
      this.#everReady = true;
      return "ready";
    }
    if (!this.#started) return "idle";
    return this.#everReady ? "reconnecting" : "connecting";
  }

  #emit(status: ChannelStatus): void {
    this.feed.emit(status);
    try {
      this.#options.onStatus?.(status);
    } catch (error) {
      queueMicrotask(() => {
        throw error; // the application's callback failed: its bug, not ours to swallow
      });
    }
  }

  #wakeAll(): void {
    for (const waiter of [...this.#waiters]) waiter.wake();
  }
}
