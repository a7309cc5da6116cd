/**
 * What the two tracers (`tracing()` for typed calls, `cmdTracing()` for cmd-level ones) share:
 * span names and attributes by procedure or cmd, the duration and size histograms of each
 * side, and how a span ends.
 */
import { type Attributes, type Histogram, type Meter, metrics, type Span, SpanStatusCode, type TextMapPropagator, type Tracer } from "@opentelemetry/api";
import { RpcError } from "../common/errors.ts";

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

/** Histogram buckets for durations in ms (OpenTelemetry's defaults are for seconds-scale HTTP). */
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const SIZE_BUCKETS = [0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

/** One side's histograms on one meter. */
export class Instruments {
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
export class PathNames {
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
export class Names {
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

/** A side's instruments on `meter`, or on the global provider's current meter (looked up per call, so one installed later is used). */
export function instrumentsFor(meter: Meter | undefined): (side: "client" | "server") => Instruments {
  const cached: { client?: Instruments; server?: Instruments } = {};
  return (side) => {
    const current = meter ?? metrics.getMeter(INSTRUMENTATION_NAME);
    const found = cached[side];
    if (found !== undefined && found.meter === current) return found;
    return (cached[side] = new Instruments(current, side));
  };
}

/** Ends a span and records its duration, with how the call ended. */
export function finish(span: Span, side: Instruments, names: PathNames, started: number, error: unknown): void {
  const code = codeOf(error);
  span.setAttribute("rpc.weft.code", code);
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
  side.duration.record(performance.now() - started, names.withCode(code));
}
