/**
 * One endpoint of a channel: its connection, kept alive. It connects when asked, reconnects
 * with backoff when the connection is lost or an attempt fails, and on goaway sets the old
 * connection aside to finish its calls while a new one is made. It also keeps what the
 * balancer reads: calls in flight here, and the endpoint's circuit breaker.
 */
import type { Connection } from "../engine/api.ts";
import { startTimer, stopTimer, type Timer } from "../common/timers.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { CircuitBreaker, type CircuitBreakerOptions } from "./circuit_breaker.ts";
import type { Endpoint } from "./endpoint.ts";
import type { EndpointState } from "./status.ts";

/** What a subchannel needs from its channel. */
export interface SubchannelHost {
  /** Opens a connection to the endpoint (the channel's options, its mux, its goaway hook). */
  dial(endpoint: Endpoint, subchannel: Subchannel): Promise<Connection>;
  readonly backoff: Required<BackoffOptions>;
  readonly breaker: CircuitBreakerOptions | false;
  /** How long a connection that said goaway gets to finish its calls. */
  readonly drainTimeout: number;
  /** The state of a subchannel changed. */
  changed(subchannel: Subchannel, error: Error | undefined, retryIn: number | undefined): void;
}

export class Subchannel {
  readonly endpoint: Endpoint;
  readonly breaker: CircuitBreaker | null;
  /** Calls this channel has in flight here (the least-loaded policy reads it). */
  inFlight = 0;
  #state: EndpointState = "idle";
  #connection: Connection | null = null;
  /** Connections told to go away, finishing their calls. */
  readonly #draining = new Set<Connection>();
  readonly #host: SubchannelHost;
  /** Attempts that failed in a row: the backoff's exponent. */
  #failures = 0;
  #connectedAt = 0;
  #timer: Timer | undefined = undefined;

  constructor(endpoint: Endpoint, host: SubchannelHost) {
    this.endpoint = endpoint;
    this.#host = host;
    this.breaker = host.breaker === false ? null : new CircuitBreaker(host.breaker);
  }

  get state(): EndpointState {
    return this.#state;
  }

  /** The ready connection, or null. */
  get connection(): Connection | null {
    return this.#connection;
  }

  /** Ready (and not closing: the connection may know before this subchannel hears), and its breaker lets a call through. */
  get usable(): boolean {
    const connection = this.#connection;
    return connection !== null && connection.isOpen && (this.breaker === null || this.breaker.admits);
  }

  /** Connects, unless it already is (or is trying to). */
  start(): void {
    if (this.#state === "idle") void this.#attempt();
  }

  /**
   * The server of `connection` said goaway: it finishes its calls (for `drainTimeout` ms at
   * most) while new calls go to a new connection. A goaway soon after connecting counts as a
   * failed attempt, so a server that says it at once cannot make the channel reconnect in a loop.
   */
  goAway(connection: Connection): void {
    if (connection !== this.#connection || this.#state === "closed") return;
    this.#connection = null;
    this.#draining.add(connection);
    void connection.close({ timeout: this.#host.drainTimeout });
    this.#set("draining", undefined, undefined);
    this.#replace(new Error("the server said goaway right after connecting"), false);
  }

  /** Closes its connections: gracefully (calls in flight get `timeout` ms), or at once. */
  async close(timeout: number | null): Promise<void> {
    if (this.#state === "closed") return;
    stopTimer(this.#timer);
    const connections = [...this.#draining, ...(this.#connection === null ? [] : [this.#connection])];
    this.#connection = null;
    this.#draining.clear();
    this.#set("closed", undefined, undefined);
    await Promise.all(connections.map((c) => (timeout === null ? c.destroy() : c.close({ timeout }))));
  }

  async #attempt(): Promise<void> {
    this.#timer = undefined;
    this.#set("connecting", undefined, undefined);
    let connection: Connection;
    try {
      connection = await this.#host.dial(this.endpoint, this);
    } catch (error) {
      if (this.#state === "closed") return;
      this.#failures++;
      return this.#retryLater(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.#state === "closed") return connection.destroy();
    this.#connection = connection;
    this.#connectedAt = performance.now();
    this.#set("ready", undefined, undefined);
    void connection.closed.then((error) => this.#lost(connection, error));
  }

  #lost(connection: Connection, error: Error | undefined): void {
    if (connection !== this.#connection) {
      this.#draining.delete(connection);
      return;
    }
    this.#connection = null;
    if (this.#state === "closed") return;
    this.#replace(error ?? new Error("the server closed the connection"), true);
  }

  /**
   * The connection is gone (or going): a new one. A connection that lived a while is replaced
   * at once; one that died young (a server that accepts and closes, or says goaway at once)
   * counts as a failed attempt, so it cannot make the channel reconnect in a loop.
   * `announce`: say "reconnecting" before an immediate attempt (a lost connection does; a
   * draining one has said "draining").
   */
  #replace(cause: Error, announce: boolean): void {
    if (performance.now() - this.#connectedAt >= this.#host.backoff.initialDelay) {
      this.#failures = 0;
      if (announce) this.#set("reconnecting", cause, 0);
      void this.#attempt();
    } else {
      this.#failures++;
      this.#retryLater(cause);
    }
  }

  #retryLater(error: Error): void {
    const delay = backoffDelay(this.#host.backoff, this.#failures - 1);
    this.#set("reconnecting", error, delay);
    this.#timer = startTimer(() => void this.#attempt(), delay);
  }

  #set(state: EndpointState, error: Error | undefined, retryIn: number | undefined): void {
    this.#state = state;
    this.#host.changed(this, error, retryIn);
  }
}
