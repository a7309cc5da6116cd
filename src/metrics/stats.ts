/**
 * A stats collector on the engine's hooks (engine/hooks.ts): give `stats.hooks` to a Server
 * (or a Connection) and it counts connections (opened, open, closed, heartbeat losses, bytes
 * each way), requests served by procedure and code, in flight, their durations in fixed
 * buckets, and the calls this side makes, by cmd. `prometheus.ts` writes it as Prometheus
 * text; `snapshot()` is what a debug page shows.
 *
 * Typed procedures are told apart by name without a string per call: the name's bytes at the
 * start of a call-by-name payload are looked up in a NameTable (typed/wire.ts). With the
 * router given, its procedures (and pinned cmds) are known up front and any other name counts
 * as "(unknown)"; without it, names are learned as they come, up to `maxNames`, then "(other)",
 * so a peer sending made-up names cannot grow the table.
 *
 * Per call: a table lookup, a pooled timer object (no allocation once warm), a few adds.
 * Not seen by hooks, so not counted: stream messages, flow-control stalls.
 */
import { RpcError } from "../common/errors.ts";
import type { Connection, IncomingRequest, StreamCounts } from "../engine/api.ts";
import type { EndHook, Hooks } from "../engine/hooks.ts";
import { HeartbeatLost } from "../engine/liveness.ts";
import { addStreams, noStreams } from "../engine/stream_counts.ts";
import { isProcedure } from "../typed/procedure.ts";
import { flatten, type Router } from "../typed/router.ts";
import { NameTable, PROCEDURE_CMD } from "../typed/wire.ts";
import { Histogram } from "./histogram.ts";

export interface StatsOptions {
  /** The router served: its procedures are known by name (and pinned cmd) from the start. */
  router?: Router;
  /** Without a router: how many distinct names (and cmds) to learn before counting the rest as "(other)". Default 256. */
  maxNames?: number;
}

/** Counts for one procedure (served) or one cmd (called). */
export class CallStats {
  readonly name: string;
  /** Started and not ended yet. */
  inFlight = 0;
  /** Ended, by code ("ok" for success). */
  readonly codes: Map<string, number> = new Map();
  /** Durations of the ended ones, in ms. */
  readonly durations: Histogram = new Histogram();
  /** Request payload bytes (the first frame's) of the ones started. */
  bytesIn = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** Ended calls, any code. */
  get calls(): number {
    return this.durations.count;
  }
}

/** One live connection, for the debug page. */
export interface ConnectionSnapshot {
  id: number;
  role: string;
  remoteAddress: string | null;
  /** The peer's software and runtime, as it announced them ("weft/0.2.0 Bun/1.3.1"). */
  peerAgent: string | null;
  codec: string;
  compression: string | null;
  protocolVersion: number;
  ageMs: number;
  callsInFlight: number;
  requestsInFlight: number;
  requests: number;
  bytesRead: number;
  bytesWritten: number;
  unsentBytes: number;
  streams: StreamCounts;
}

export interface CallSnapshot {
  name: string;
  calls: number;
  inFlight: number;
  errors: number;
  codes: Record<string, number>;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  meanMs: number | null;
  bytesIn: number;
}

/** Everything at one moment, as plain JSON. */
export interface StatsSnapshot {
  at: number;
  uptimeMs: number;
  connections: {
    open: number;
    opened: number;
    closed: number;
    closedWithError: number;
    heartbeatLosses: number;
    bytesRead: number;
    bytesWritten: number;
    /** Stream frames and flow-control stalls, on connections open now and closed. */
    streams: StreamCounts;
    live: ConnectionSnapshot[];
  };
  procedures: CallSnapshot[];
  calls: CallSnapshot[];
}

interface Live {
  readonly id: number;
  readonly openedAt: number;
  requests: number;
}

/** A call being timed; pooled, so timing a call allocates nothing once the pool is warm. */
class Timing {
  entry: CallStats | null = null;
  started = 0;
  readonly end: EndHook;
  constructor(ended: (timing: Timing, error: unknown) => void) {
    this.end = (error) => ended(this, error);
  }
}

export class Stats {
  /** Give these to a Server (`new Server({ hooks: stats.hooks })`) or a Connection. */
  readonly hooks: Hooks;
  readonly startedAt: number = Date.now();
  /** Connections opened, ever. */
  opened = 0;
  closed = 0;
  closedWithError = 0;
  heartbeatLosses = 0;
  readonly #live = new Map<Connection, Live>();
  #nextId = 1;
  #closedBytesRead = 0;
  #closedBytesWritten = 0;
  readonly #closedStreams: StreamCounts = noStreams();
  readonly #byName = new NameTable<CallStats>();
  /** Served requests by plain cmd (pinned procedures share their named entry). */
  readonly #servedByCmd = new Map<number, CallStats>();
  /** Every served entry, in first-seen order. */
  readonly #served: CallStats[] = [];
  /** Calls this side makes, by cmd. */
  readonly #calledByCmd = new Map<number, CallStats>();
  readonly #known: boolean;
  readonly #maxNames: number;
  #names = 0;
  readonly #other = new Map<string, CallStats>();
  readonly #pool: Timing[] = [];
  readonly #ended = (timing: Timing, error: unknown): void => {
    const entry = timing.entry!;
    entry.inFlight--;
    const code = error === undefined ? "ok" : error instanceof RpcError ? error.code : "unknown";
    entry.codes.set(code, (entry.codes.get(code) ?? 0) + 1);
    entry.durations.observe(performance.now() - timing.started);
    timing.entry = null;
    this.#pool.push(timing);
  };

  constructor(options: StatsOptions = {}) {
    this.#known = options.router !== undefined;
    this.#maxNames = options.maxNames ?? 256;
    if (options.router !== undefined) {
      for (const route of flatten(options.router).values()) {
        if (!isProcedure(route.definition)) continue;
        const entry = this.#add(route.path);
        this.#byName.set(route.path, entry);
        if (route.definition.cmd !== undefined) this.#servedByCmd.set(route.definition.cmd, entry);
      }
    }
    this.hooks = {
      connectionOpened: (connection) => {
        this.opened++;
        this.#live.set(connection, { id: this.#nextId++, openedAt: Date.now(), requests: 0 });
      },
      connectionClosed: (connection, error) => {
        this.#live.delete(connection);
        this.closed++;
        if (error !== undefined) this.closedWithError++;
        if (error instanceof HeartbeatLost) this.heartbeatLosses++;
        const bytes = connection.bytes;
        this.#closedBytesRead += bytes.read;
        this.#closedBytesWritten += bytes.written;
        addStreams(this.#closedStreams, { ...connection.streams, open: 0 }); // a closed connection has none open
      },
      requestStarted: (request) => {
        const entry = request.cmd === PROCEDURE_CMD ? this.#procedure(request.payload) : this.#cmd(this.#servedByCmd, request.cmd, true);
        entry.bytesIn += request.payload.length;
        const live = this.#live.get(request.connection);
        if (live !== undefined) live.requests++;
        return this.#start(entry);
      },
      callStarted: (_connection, cmd) => this.#start(this.#cmd(this.#calledByCmd, cmd, false)),
    };
  }

  /** Served requests, by procedure (or "cmd N" for plain handlers). */
  get procedures(): readonly CallStats[] {
    return this.#served;
  }

  /** Calls this side made, by cmd. */
  get calls(): readonly CallStats[] {
    return [...this.#calledByCmd.values()];
  }

  /** Connections open now. */
  get open(): number {
    return this.#live.size;
  }

  /** Bytes read from peers, on connections open now and closed. */
  get bytesRead(): number {
    let bytes = this.#closedBytesRead;
    for (const connection of this.#live.keys()) bytes += connection.bytes.read;
    return bytes;
  }

  get bytesWritten(): number {
    let bytes = this.#closedBytesWritten;
    for (const connection of this.#live.keys()) bytes += connection.bytes.written;
    return bytes;
  }

  /** Stream frames each way and flow-control stalls, on connections open now and closed. */
  get streams(): StreamCounts {
    const counts = addStreams(noStreams(), this.#closedStreams);
    for (const connection of this.#live.keys()) addStreams(counts, connection.streams);
    return counts;
  }

  /** The served procedure (or cmd) named `name`, if seen. */
  procedure(name: string): CallStats | undefined {
    return this.#served.find((entry) => entry.name === name);
  }

  snapshot(): StatsSnapshot {
    const now = Date.now();
    const live: ConnectionSnapshot[] = [];
    // The totals from the same readings as the rows: each connection is read once.
    let bytesRead = this.#closedBytesRead;
    let bytesWritten = this.#closedBytesWritten;
    const totalStreams = addStreams(noStreams(), this.#closedStreams);
    for (const [connection, info] of this.#live) {
      const inFlight = connection.inFlight;
      const bytes = connection.bytes;
      const streams = connection.streams;
      bytesRead += bytes.read;
      bytesWritten += bytes.written;
      addStreams(totalStreams, streams);
      live.push({
        id: info.id,
        role: connection.role,
        remoteAddress: connection.remoteAddress ?? null,
        peerAgent: connection.peerAgent,
        codec: connection.codec,
        compression: connection.compression,
        protocolVersion: connection.protocolVersion,
        ageMs: now - info.openedAt,
        callsInFlight: inFlight.calls,
        requestsInFlight: inFlight.requests,
        requests: info.requests,
        bytesRead: bytes.read,
        bytesWritten: bytes.written,
        unsentBytes: connection.unsentBytes,
        streams,
      });
    }
    return {
      at: now,
      uptimeMs: now - this.startedAt,
      connections: {
        open: this.#live.size,
        opened: this.opened,
        closed: this.closed,
        closedWithError: this.closedWithError,
        heartbeatLosses: this.heartbeatLosses,
        bytesRead,
        bytesWritten,
        streams: totalStreams,
        live,
      },
      procedures: this.#served.map(snapshotOf),
      calls: this.calls.map(snapshotOf),
    };
  }

  #start(entry: CallStats): EndHook {
    entry.inFlight++;
    const timing = this.#pool.pop() ?? new Timing(this.#ended);
    timing.entry = entry;
    timing.started = performance.now();
    return timing.end;
  }

  /** The entry for a call by name, from the name's bytes. */
  #procedure(payload: Uint8Array): CallStats {
    const length = payload.length > 0 ? payload[0] : 0;
    if (length === 0 || payload.length < 1 + length) return this.#lumped("(malformed)");
    const found = this.#byName.find(payload, length);
    if (found !== undefined) return found;
    if (this.#known || this.#names >= this.#maxNames) return this.#lumped(this.#known ? "(unknown)" : "(other)");
    const entry = this.#add(new TextDecoder().decode(payload.subarray(1, 1 + length)));
    this.#byName.set(entry.name, entry);
    this.#names++;
    return entry;
  }

  #cmd(table: Map<number, CallStats>, cmd: number, served: boolean): CallStats {
    const found = table.get(cmd);
    if (found !== undefined) return found;
    if ((served ? this.#names : table.size) >= this.#maxNames) {
      if (served) return this.#lumped("(other)");
      let other = table.get(-1);
      if (other === undefined) table.set(-1, other = new CallStats("(other)"));
      return other;
    }
    const entry = new CallStats(`cmd ${cmd}`);
    if (served) {
      this.#served.push(entry);
      this.#names++;
    }
    table.set(cmd, entry);
    return entry;
  }

  /** One shared entry for what has no name of its own. */
  #lumped(name: string): CallStats {
    let entry = this.#other.get(name);
    if (entry === undefined) this.#other.set(name, entry = this.#add(name));
    return entry;
  }

  #add(name: string): CallStats {
    const entry = new CallStats(name);
    this.#served.push(entry);
    return entry;
  }
}

function snapshotOf(entry: CallStats): CallSnapshot {
  const ok = entry.codes.get("ok") ?? 0;
  const h = entry.durations;
  const round = (value: number | undefined) => (value === undefined ? null : Math.round(value * 1000) / 1000);
  return {
    name: entry.name,
    calls: entry.calls,
    inFlight: entry.inFlight,
    errors: entry.calls - ok,
    codes: Object.fromEntries(entry.codes),
    p50: round(h.percentile(0.5)),
    p90: round(h.percentile(0.9)),
    p99: round(h.percentile(0.99)),
    meanMs: h.count === 0 ? null : round(h.sum / h.count),
    bytesIn: entry.bytesIn,
  };
}
