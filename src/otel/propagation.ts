/**
 * W3C Trace Context (`traceparent`, `tracestate`) in weft's call metadata: the propagator
 * tracing() uses unless given another, so a trace crosses a connection whether or not the
 * application registered a global propagator. https://www.w3.org/TR/trace-context/
 */
import {
  type Context,
  createTraceState,
  isSpanContextValid,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import type { Metadata } from "../wire/extensions.ts";

export const TRACEPARENT = "traceparent";
export const TRACESTATE = "tracestate";

/** version 00 (later versions may add fields after a "-"), trace id, span id, flags. */
const HEADER = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Reads and writes string entries of call metadata (a Uint8Array entry is not a header). */
export const metadataGetter: TextMapGetter<Readonly<Metadata>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === "string" ? value : undefined;
  },
};

export const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The W3C trace-context propagator, on any carrier. */
export class W3CTraceContext implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const span = trace.getSpanContext(context);
    if (span === undefined || !isSpanContextValid(span)) return;
    const flags = `0${(span.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
    setter.set(carrier, TRACEPARENT, `00-${span.traceId}-${span.spanId}-${flags}`);
    const state = span.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE, state);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = first(getter.get(carrier, TRACEPARENT));
    const match = header === undefined ? null : HEADER.exec(header.trim());
    if (match === null || match[1] === "ff" || (match[1] === "00" && match[5] !== undefined)) return context;
    const state = first(getter.get(carrier, TRACESTATE));
    const span = {
      traceId: match[2],
      spanId: match[3],
      traceFlags: parseInt(match[4], 16) & TraceFlags.SAMPLED,
      isRemote: true,
      traceState: state === undefined ? undefined : createTraceState(state),
    };
    return isSpanContextValid(span) ? trace.setSpanContext(context, span) : context;
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
