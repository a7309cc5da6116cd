/**
 * otel: tracing and metrics on OpenTelemetry's API (`@weft/rpc/otel`; `@opentelemetry/api`
 * is an optional peer dependency, needed by this entry point only). `tracing()` gives a
 * client and a server middleware for the typed layer: a span per call on each side, W3C
 * `traceparent`/`tracestate` in the call's metadata (so a trace crosses the connection either
 * way, server-to-client calls included), RPC semantic-convention attributes, and duration
 * and size histograms. Until the application installs an OpenTelemetry SDK, the API's no-op
 * tracer and meter make this cost a few no-op calls per call.
 * May import `typed/`, `engine/`, `wire/` and `common/`; nothing else imports it.
 *
 * @module
 */
import {
  type Attributes,
  context,
  type Context as OtelContext,
  type Histogram,
  type Meter,
  metrics,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { RpcError } from "../common/errors.ts";
import { isAsyncIterable, isReadableStream, toAsyncIterator } from "../common/streams.ts";
import type { Metadata } from "../wire/extensions.ts";
import type { Context, Middleware } from "../typed/context.ts";
import type { ClientCall, ClientMiddleware } from "../typed/caller.ts";
import { StreamedReply } from "../typed/streamed_reply.ts";
import { metadataGetter, metadataSetter, W3CTraceContext } from "./propagation.ts";

export { metadataGetter, metadataSetter, TRACEPARENT, TRACESTATE, W3CTraceContext } from "./propagation.ts";

/** The instrumentation scope's name, for tracers and meters this module gets itself. */
export const INSTRUMENTATION_NAME = "@weft/rpc";

export interface TracingOptions {
  /** The tracer for spans (default: the global provider's, `trace.getTracer("@weft/rpc")`). */
  tracer?: Tracer;
  /** The meter for histograms (default: the global provider's, looked up per call so one installed later is used). */
  meter?: Meter;
  /** Writes and reads the trace context in call metadata (default: W3C trace context, whatever the global propagator). */
  propagator?: TextMapPropagator;
  /** Extra attributes for each span and measurement, given the procedure's path (asked once per path). */
  attributes?: (path: string) => Attributes;
}

/** Middleware for both sides: give `client` to createClient, `server` to serve. */
export interface Tracing {
  /** For `createClient(conn, { middleware: [t.client] })`: a CLIENT span per call, its context sent in metadata. */
  readonly client: ClientMiddleware;
  /** For `serve(router, target, { middleware: [t.server] })`: a SERVER span per call, a child of the caller's. */
  readonly server: Middleware<Context>;
}

/** Histogram buckets for durations in ms (OpenTelemetry's defaults are for seconds-scale HTTP). */
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const SIZE_BUCKETS = [0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

/** One side's histograms on one meter. */
class Instruments {
  readonly meter: Meter;
  readonly duration: Histogram;
  readonly requestSize: Histogram;
  readonly responseSize: Histogram;

  constructor(meter: Meter, side: "client" | "server") {
    this.meter = meter;
    this.duration = meter.createHistogram(`rpc.${side}.duration`, {
      description: `Duration of calls, measured on the ${side}`,
      unit: "ms",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.requestSize = meter.createHistogram(`rpc.${side}.request.size`, {
      description: "Bytes of a call's request payload (one-frame requests)",
      unit: "By",
      advice: { explicitBucketBoundaries: SIZE_BUCKETS },
    });
    this.responseSize = meter.createHistogram(`rpc.${side}.response.size`, {
      description: "Bytes of a call's reply payload (one-frame replies)",
      unit: "By",
      advice: { explicitBucketBoundaries: SIZE_BUCKETS },
    });
  }
}

/** The code a call ended with: "ok", an RpcError's code, else "unknown". */
export function codeOf(error: unknown): string {
  if (error === undefined) return "ok";
  return error instanceof RpcError ? error.code : "unknown";
}

/** `rpc.service` and `rpc.method` from a dotted path: "users.get" is service "users", method "get". */
export function namesOf(path: string): { service: string | undefined; method: string; spanName: string } {
  const dot = path.lastIndexOf(".");
  if (dot < 0) return { service: undefined, method: path, spanName: path };
  const service = path.slice(0, dot);
  const method = path.slice(dot + 1);
  return { service, method, spanName: `${service}/${method}` };
}

/** A procedure's span name and attributes, made once: the attributes with each code, too. */
class PathNames {
  readonly spanName: string;
  readonly attributes: Attributes;
  readonly #byCode = new Map<string, Attributes>();

  constructor(path: string, extra: ((path: string) => Attributes) | undefined) {
    const { service, method, spanName } = namesOf(path);
    this.spanName = spanName;
    const attributes: Attributes = service === undefined
      ? { "rpc.system": "weft", "rpc.method": method }
      : { "rpc.system": "weft", "rpc.service": service, "rpc.method": method };
    if (extra !== undefined) Object.assign(attributes, extra(path));
    this.attributes = attributes;
  }

  /** The attributes and `rpc.weft.code` (copied by hand: an object spread of these costs microseconds on V8). */
  withCode(code: string): Attributes {
    let found = this.#byCode.get(code);
    if (found === undefined) {
      found = { "rpc.weft.code": code };
      for (const key in this.attributes) found[key] = this.attributes[key];
      this.#byCode.set(code, found);
    }
    return found;
  }
}

/** PathNames by path, up to a bound (a client may call any name). */
class Names {
  static readonly MAX = 1024;
  readonly #extra: ((path: string) => Attributes) | undefined;
  readonly #byPath = new Map<string, PathNames>();

  constructor(extra: ((path: string) => Attributes) | undefined) {
    this.#extra = extra;
  }

  of(path: string): PathNames {
    let found = this.#byPath.get(path);
    if (found === undefined) {
      found = new PathNames(path, this.#extra);
      if (this.#byPath.size < Names.MAX) this.#byPath.set(path, found);
    }
    return found;
  }
}

/** Spans, propagation and histograms for typed calls on both sides (see the module comment). */
export function tracing(options: TracingOptions = {}): Tracing {
  const tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_NAME);
  const propagator = options.propagator ?? new W3CTraceContext();
  const extra = options.attributes;
  const cached: { client?: Instruments; server?: Instruments } = {};
  /** The side's instruments on the given meter, or the global provider's current one. */
  const instruments = (side: "client" | "server"): Instruments => {
    const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_NAME);
    const found = cached[side];
    if (found !== undefined && found.meter === meter) return found;
    return (cached[side] = new Instruments(meter, side));
  };

  const names = new Names(extra);

  /** Ends a span and records its duration, with how the call ended. */
  const finish = (span: Span, side: Instruments, names: PathNames, started: number, error: unknown) => {
    const code = codeOf(error);
    span.setAttribute("rpc.weft.code", code);
    if (error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      if (error instanceof Error) span.recordException(error);
    }
    span.end();
    side.duration.record(performance.now() - started, names.withCode(code));
  };

  const client: ClientMiddleware = async (call: ClientCall, next) => {
    const started = performance.now();
    const path = names.of(call.path);
    const parent = context.active();
    const span = tracer.startSpan(path.spanName, { kind: SpanKind.CLIENT, attributes: path.attributes }, parent);
    const active = trace.setSpan(parent, span);
    const carrier: Metadata = {};
    propagator.inject(active, carrier, metadataSetter);
    // Without an SDK (or a sampled-out context) nothing is injected, and the call is left as it was.
    for (const _ in carrier) {
      call.options = Object.assign({}, call.options, { metadata: Object.assign({}, call.options.metadata, carrier) });
      break;
    }
    const side = instruments("client");
    let output: unknown;
    try {
      output = await context.with(active, next, undefined, call);
    } catch (error) {
      finish(span, side, path, started, error);
      throw error;
    }
    const response = call.response;
    if (output instanceof StreamedReply) {
      // A streamed reply: the call lasts until it has been read to its end.
      output.ended.then(() => finish(span, side, path, started, undefined));
    } else {
      if (response !== undefined) side.responseSize.record(response.payload.byteLength, path.attributes);
      finish(span, side, path, started, undefined);
    }
    return output;
  };

  const server: Middleware<Context> = (ctx, next) => {
    const started = performance.now();
    const path = names.of(ctx.path);
    // The caller's context, from its metadata; nothing of this process's ambient context.
    const parent = propagator.extract(ROOT_CONTEXT, ctx.metadata, metadataGetter);
    const span = tracer.startSpan(path.spanName, { kind: SpanKind.SERVER, attributes: path.attributes }, parent);
    const address = ctx.connection.remoteAddress;
    if (address !== undefined) span.setAttribute("network.peer.address", address);
    const active = trace.setSpan(parent, span);
    const side = instruments("server");
    if (!ctx.request.isStream) side.requestSize.record(ctx.request.payload.byteLength, path.attributes);
    const done = (error: unknown) => finish(span, side, path, started, error);
    return context.with(active, next).then((result) => {
      const streams = ctx.shape === "serverStream" || ctx.shape === "bidi";
      if (streams && (isAsyncIterable(result) || isReadableStream(result))) return traced(result, active, ctx.signal, done);
      done(undefined);
      return result;
    }, (error) => {
      done(error);
      throw error;
    });
  };

  return { client, server };
}

/**
 * A handler's reply stream, its items made in the call's context (so calls the handler makes
 * while streaming are children of its span); the span ends with the stream.
 */
async function* traced(
  source: AsyncIterable<unknown> | ReadableStream<unknown>,
  active: OtelContext,
  signal: AbortSignal,
  done: (error: unknown) => void,
): AsyncGenerator<unknown> {
  const iterator = toAsyncIterator(source);
  let error: unknown;
  let finished = false;
  try {
    for (;;) {
      const step = await context.with(active, () => iterator.next());
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } catch (caught) {
    error = caught;
    finished = true;
    throw caught;
  } finally {
    if (!finished) {
      // Left early: the caller cancelled, or the connection went.
      if (signal.aborted) error = signal.reason instanceof RpcError ? signal.reason : new RpcError("cancelled", "the call was cancelled");
      await iterator.return?.();
    }
    done(error);
  }
}
