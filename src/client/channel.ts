/**
 * A client that owns its connections: give it endpoints, and it connects (lazily, or at once
 * with `eager`), reconnects with backoff, moves new calls off a server that says goaway,
 * spreads calls by a balancing policy, retries what is safe to retry, and skips endpoints
 * whose breaker is open. To the code above it is a Connection: `createClient(channel)` works
 * as on a single connection, and typed subscriptions survive reconnects.
 */
import { RpcError } from "../common/errors.ts";
import type { CloseOptions, Connection, Handler, Mux, PushHandler, StreamCounts } from "../engine/api.ts";
import type { Call, PendingCall } from "../engine/call.ts";
import { Mux as HandlerTable } from "../engine/mux.ts";
import { addStreams, noStreams } from "../engine/stream_counts.ts";
import type { Response } from "../engine/response.ts";
import type { CompressionFormat } from "../wire/compression.ts";
import type { Endpoint } from "./endpoint.ts";
import { ForwardingMux } from "./forwarding_mux.ts";
import { endpointsOf, followRegistry, isRegistrySource } from "./discovery.ts";
import type { ChannelCallOptions, ChannelOptions, DialOptions, EndpointSource } from "./options.ts";
import { Pool } from "./pool.ts";
import { Attempts } from "./attempts.ts";
import { resolveRetry } from "./retry.ts";
import { RetryBudget } from "./retry_budget.ts";
import type { ChannelState, ChannelStatus } from "./status.ts";
import type { Subchannel } from "./subchannel.ts";

const EMPTY = new Uint8Array(0);
const DEFAULT_READY_TIMEOUT = 10_000;
const DEFAULT_CONNECT_TIMEOUT = 10_000;
const DEFAULT_DRAIN_TIMEOUT = 5000;
const DEFAULT_MAX_WAITING = 1000;
const DEFAULT_MAX_FRAME = 10 * 1024 * 1024;
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});


/** One endpoint's outcome in a broadcast. */
export type BroadcastResult<T> = { endpoint: string; value: T } | { endpoint: string; error: unknown };

export class Channel implements Connection {
  readonly role = "client" as const;
  readonly mux: Mux = new HandlerTable();
  readonly closed: Promise<Error | undefined>;
  readonly codec: string;
  readonly maxFrameSize: number;
  readonly #options: ChannelOptions;
  readonly #pool: Pool;
  readonly #attempts: Attempts;
  readonly #readyTimeout: number;
  #resolveClosed!: (error: Error | undefined) => void;
  #isOpen = true;
  #refreshing: Promise<void> | null = null;
  /** Ends the registry watch of a `{ registry, service }` channel on close. */
  readonly #unwatch = new AbortController();

  constructor(options: ChannelOptions) {
    if (typeof options?.dial !== "function") throw new TypeError("a channel needs `dial` (use an adapter's createChannel)");
    this.#options = options;
    this.codec = options.codec ?? "raw";
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME;
    this.#readyTimeout = options.readyTimeout ?? DEFAULT_READY_TIMEOUT;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const source = options.endpoints;
    this.#pool = new Pool({
      dial: (endpoint, subchannel) => this.#dial(endpoint, subchannel),
      balance: options.balance ?? "round-robin",
      reconnect: options.reconnect,
      breaker: options.breaker,
      onStatus: options.onStatus,
      drainTimeout: options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT,
      maxWaiting: options.maxWaitingCalls ?? DEFAULT_MAX_WAITING,
      refresh: typeof source === "function" || isRegistrySource(source) ? () => void this.refresh() : null,
    });
    this.#attempts = new Attempts(this.#pool, new RetryBudget(options.retryBudget), resolveRetry(options.retry), this.#readyTimeout);
    if (isRegistrySource(source)) {
      const apply = (endpoints: string[]) => this.#pool.setEndpoints(endpoints);
      void followRegistry(source, apply, (error) => this.reportError(error), this.#unwatch.signal);
    } else if (typeof source === "function") void this.refresh();
    else this.#pool.setEndpoints(typeof source === "string" ? [source] : source);
    if (options.eager === true) this.#pool.start();
  }

  // ---- state -----------------------------------------------------------------------

  /** The channel's state now (see `status()` for its changes). */
  get state(): ChannelState {
    return this.#pool.state;
  }

  /** Every change of state from now on, to `for await`; it ends when the channel closes. */
  status(): AsyncIterableIterator<ChannelStatus> {
    return this.#pool.feed.iterate();
  }

  /** The endpoints and what each is doing. */
  get endpoints(): { endpoint: string; state: Subchannel["state"]; inFlight: number; breaker: string | null }[] {
    return this.#pool.subchannels.map((s) => ({
      endpoint: s.endpoint.url,
      state: s.state,
      inFlight: s.inFlight,
      breaker: s.breaker?.state ?? null,
    }));
  }

  /** Replaces the endpoints: new ones get traffic, gone ones drain. */
  setEndpoints(endpoints: readonly string[]): void {
    this.#pool.setEndpoints(endpoints);
  }

  /**
   * Asks an `endpoints` function (or lists the registry's instances) again: it happens by
   * itself when every endpoint is down, or when a call finds none. One question at a time:
   * callers meanwhile share its answer.
   */
  refresh(): Promise<void> {
    const source = this.#options.endpoints as EndpointSource;
    if (typeof source !== "function" && !isRegistrySource(source)) return Promise.resolve();
    if (this.#refreshing === null) {
      const asking = (async () => {
        try {
          const endpoints = isRegistrySource(source)
            ? endpointsOf(await source.registry.list(source.service), source.select)
            : await source();
          this.#pool.setEndpoints(endpoints);
        } catch (error) {
          this.reportError(error);
        }
      })();
      // Cleared only once the question is over (a source that throws at once ends it synchronously).
      this.#refreshing = asking.finally(() => (this.#refreshing = null));
    }
    return this.#refreshing;
  }

  /** Resolves once some endpoint is ready (connecting if need be); rejects after `timeout` ms. */
  async ready(timeout: number = this.#readyTimeout): Promise<void> {
    await this.#pool.usable(performance.now() + timeout, undefined, () => this.#pool.picker.pick(undefined));
  }

  /** The connection calls would use now (for what a single connection reports), or null. */
  get #current(): Connection | null {
    for (const s of this.#pool.subchannels) if (s.connection !== null) return s.connection;
    return null;
  }

  get remoteAddress(): string | undefined {
    return this.#current?.remoteAddress;
  }
  get isOpen(): boolean {
    return this.#isOpen;
  }
  get peerMetadata(): Readonly<Record<string, string>> {
    return this.#current?.peerMetadata ?? NO_METADATA;
  }
  get compression(): CompressionFormat | null {
    return this.#current?.compression ?? null;
  }
  get checksummed(): boolean {
    return this.#current?.checksummed ?? false;
  }
  get protocolVersion(): number {
    return this.#current?.protocolVersion ?? 0;
  }
  get peerSpeaksWeft(): boolean {
    return this.#current?.peerSpeaksWeft ?? false;
  }
  get inFlight(): { calls: number; requests: number } {
    let calls = 0;
    let requests = 0;
    for (const s of this.#pool.subchannels) {
      const counts = s.connection?.inFlight;
      calls += counts?.calls ?? 0;
      requests += counts?.requests ?? 0;
    }
    return { calls, requests };
  }
  get unsentBytes(): number {
    let bytes = 0;
    for (const s of this.#pool.subchannels) bytes += s.connection?.unsentBytes ?? 0;
    return bytes;
  }
  /** Over the endpoints' current connections only. */
  get bytes(): { read: number; written: number } {
    const bytes = { read: 0, written: 0 };
    for (const s of this.#pool.subchannels) {
      bytes.read += s.connection?.bytes.read ?? 0;
      bytes.written += s.connection?.bytes.written ?? 0;
    }
    return bytes;
  }
  /** Over the endpoints' current connections only. */
  get streams(): StreamCounts {
    const counts = noStreams();
    for (const s of this.#pool.subchannels) if (s.connection) addStreams(counts, s.connection.streams);
    return counts;
  }
  /** The current connection's peer. */
  get peerAgent(): string | null {
    return this.#current?.peerAgent ?? null;
  }
  async drained(bytes: number): Promise<void> {
    await Promise.all(this.#pool.subchannels.map((s) => s.connection?.drained(bytes)));
  }

  // ---- calls -------------------------------------------------------------------------

  handle(cmd: number, handler: Handler): this {
    this.mux.handle(cmd, handler);
    return this;
  }

  onPush(handler: PushHandler | null): this {
    this.mux.onPush(handler);
    return this;
  }

  request(cmd: number, payload: Uint8Array = EMPTY, options?: ChannelCallOptions): Promise<Response> {
    try {
      return this.open(cmd, payload, options).response;
    } catch (error) {
      return Promise.reject(error); // as a connection's request: a failure is a rejection
    }
  }

  /** A call with one request frame: sent when an endpoint is ready, retried as its policy says. */
  open(cmd: number, payload: Uint8Array = EMPTY, options?: ChannelCallOptions): PendingCall {
    this.#checkOpen();
    return this.#attempts.open(cmd, payload, options);
  }

  /** A call with a request stream. It waits for an endpoint, but is not retried once it is sent. */
  call(cmd: number, options?: ChannelCallOptions): Call {
    this.#checkOpen();
    return this.#attempts.call(cmd, options);
  }

  /** Pushes on a ready connection (a push has no reply to wait for: with none ready it throws). */
  push(cmd: number, payload: Uint8Array = EMPTY): void {
    this.#checkOpen();
    const picked = this.#pool.picker.pick(undefined);
    if (picked === null) {
      this.#pool.start();
      throw new RpcError("unavailable", "no connection is ready for a push", { unprocessed: true });
    }
    picked.connection!.push(cmd, payload);
  }

  /**
   * Runs `call` on every endpoint at once (each waits for its connection, up to `timeout` or
   * the channel's readyTimeout), and resolves with every outcome: a value or an error each.
   */
  broadcast<T>(
    call: (connection: Connection, endpoint: string, signal: AbortSignal) => Promise<T>,
    options: { timeout?: number; signal?: AbortSignal } = {},
  ): Promise<BroadcastResult<T>[]> {
    this.#checkOpen();
    const deadline = performance.now() + (options.timeout ?? this.#readyTimeout);
    const signal = options.signal ?? new AbortController().signal;
    return Promise.all(this.#pool.subchannels.map(async (subchannel): Promise<BroadcastResult<T>> => {
      const endpoint = subchannel.endpoint.url;
      try {
        await this.#pool.usable(deadline, signal, () => (subchannel.connection === null ? null : subchannel));
        return { endpoint, value: await call(subchannel.connection!, endpoint, signal) };
      } catch (error) {
        return { endpoint, error };
      }
    }));
  }

  /**
   * geerpc's broadcast: `call` on every endpoint; the first error fails it (and aborts the
   * others' signal), else it resolves with one of the values.
   */
  async broadcastOne<T>(
    call: (connection: Connection, endpoint: string, signal: AbortSignal) => Promise<T>,
    options: { timeout?: number } = {},
  ): Promise<T> {
    const abort = new AbortController();
    let failure: { error: unknown } | null = null;
    const results = await this.broadcast(async (connection, endpoint, signal) => {
      try {
        return await call(connection, endpoint, signal);
      } catch (error) {
        failure ??= { error };
        abort.abort(error);
        throw error;
      }
    }, { ...options, signal: abort.signal });
    if (failure !== null) throw (failure as { error: unknown }).error;
    const first = results.find((r) => "error" in r);
    if (first !== undefined) throw (first as { error: unknown }).error;
    if (results.length === 0) throw new RpcError("unavailable", "the channel has no endpoints");
    return (results[0] as { value: T }).value;
  }

  #checkOpen(): void {
    if (!this.#isOpen) throw new RpcError("unavailable", "the channel is closed", { unprocessed: true });
  }

  // ---- connections -------------------------------------------------------------------

  #dial(endpoint: Endpoint, subchannel: Subchannel): Promise<Connection> {
    const options = this.#options;
    const userGoAway = options.onGoAway;
    const dialOptions: DialOptions = {
      ...options,
      connectTimeout: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
      mux: new ForwardingMux(this.mux, this),
      onGoAway: (reason, connection) => {
        subchannel.goAway(connection);
        userGoAway?.(reason, connection);
      },
    };
    return options.dial(endpoint, dialOptions);
  }

  // ---- closing -----------------------------------------------------------------------

  /** Closes every connection gracefully (calls in flight get `timeout` ms); waiting calls fail. */
  async close(options: CloseOptions = {}): Promise<void> {
    if (!this.#isOpen) return void (await this.closed);
    this.#isOpen = false;
    this.#unwatch.abort();
    await this.#pool.close(options.timeout ?? DEFAULT_DRAIN_TIMEOUT);
    this.#resolveClosed(undefined);
  }

  /** Closes every connection at once: calls in flight fail with `unavailable`. */
  destroy(error?: Error): void {
    if (!this.#isOpen) return;
    this.#isOpen = false;
    this.#unwatch.abort();
    void this.#pool.close(null).then(() => this.#resolveClosed(error));
  }

  reportError(error: unknown): void {
    try {
      this.#options.onError?.(error, this);
    } catch {
      // An onError that throws is ignored, as the engine ignores it.
    }
  }
}
