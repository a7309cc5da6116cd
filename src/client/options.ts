/** What a channel is told when it is made (ChannelOptions), and per call (ChannelCallOptions). */
import type { RegistrySource } from "./discovery.ts";
import type { CallOptions } from "../engine/call.ts";
import type { Connection } from "../engine/api.ts";
import type { ConnectionOptions } from "../engine/options.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { CircuitBreakerOptions } from "./circuit_breaker.ts";
import type { Endpoint } from "./endpoint.ts";
import type { BalancePolicy } from "./picker.ts";
import type { RetryPolicy } from "./retry.ts";
import type { RetryBudgetOptions } from "./retry_budget.ts";
import type { ChannelStatus } from "./status.ts";

/** Opens one connection to an endpoint: what an adapter gives a channel for its runtime. */
export type Dial = (endpoint: Endpoint, options: DialOptions) => Promise<Connection>;

/** The connection options a channel dials with. */
export interface DialOptions extends ConnectionOptions {
  /** Milliseconds for one attempt (TCP, TLS and WebSocket handshakes). */
  connectTimeout: number;
}

/** Endpoint URLs, or a function that returns them (a registry, DNS): asked again when all are down. */
export type EndpointSource =
  | string
  | readonly string[]
  | (() => readonly string[] | Promise<readonly string[]>)
  | RegistrySource;

export interface ChannelOptions extends ConnectionOptions {
  /**
   * `tcp://host:port`, `tls://host:port`, `ws://host:port/path`, `wss://…`: one, many, a
   * function, or `{ registry, service }` to follow a service's instances in a registry.
   */
  endpoints: EndpointSource;
  /** How a connection is made; the runtime adapters' `createChannel` pass their own. */
  dial: Dial;
  /** How calls spread over endpoints. Default "round-robin". */
  balance?: BalancePolicy;
  /** Connect to every endpoint now, not on the first call. Default false. */
  eager?: boolean;
  /** Milliseconds for one connection attempt. Default 10000. */
  connectTimeout?: number;
  /** Backoff between attempts to reach an endpoint. Default 1 s, x1.6, at most 120 s, +-20 %. */
  reconnect?: BackoffOptions;
  /**
   * Milliseconds a call waits for a ready connection (its own `timeout` too, whichever is
   * first) before it fails with `unavailable`. Default 10000.
   */
  readyTimeout?: number;
  /** Calls that may wait for a connection at once; more fail at once with `unavailable`. Default 1000. */
  maxWaitingCalls?: number;
  /** Default retry policy of every call (see RetryPolicy); false: none. */
  retry?: RetryPolicy | false;
  /** The budget every retry draws on (gRPC's retry throttling). Default 100 tokens, 0.1 per success. */
  retryBudget?: RetryBudgetOptions;
  /** A circuit breaker per endpoint (default on, with CircuitBreakerOptions' defaults); false: none. */
  breaker?: CircuitBreakerOptions | false;
  /** Every change of state (the same as iterating `channel.status()`). */
  onStatus?: (status: ChannelStatus) => void;
  /** Milliseconds a connection that went away, or an endpoint that was removed, gets to finish its calls. Default 5000. */
  drainTimeout?: number;
}

/** Options of one call on a channel. */
export interface ChannelCallOptions extends CallOptions {
  /** This call's retry policy (instead of the channel's); false: none. */
  retry?: RetryPolicy | false;
  /** The call may run twice without harm: it is retried even after it may have reached a handler. */
  idempotent?: boolean;
  /** With `balance: "consistent-hash"`: calls with the same key go to the same endpoint. */
  hashKey?: string;
}
