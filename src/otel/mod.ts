/**
 * otel: tracing and metrics on OpenTelemetry's API (`@weft/rpc/otel`; `@opentelemetry/api`
 * is an optional peer dependency, needed by this entry point only). `tracing()` gives a
 * client and a server middleware for the typed layer: a span per call on each side, W3C
 * `traceparent`/`tracestate` in the call's metadata (so a trace crosses the connection either
 * way, server-to-client calls included), RPC semantic-convention attributes, and duration
 * and size histograms. Until the application installs an OpenTelemetry SDK, the API's no-op
 * tracer and meter make this cost a few no-op calls per call. `cmdTracing()` does the same for
 * cmd-level calls, from the engine's hooks (cmd_tracing.ts).
 * May import `typed/`, `engine/`, `wire/` and `common/`; nothing else imports it.
 *
 * @module
 */
import { context, type Context as OtelContext, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { RpcError } from "../common/errors.ts";
import { isAsyncIterable, isReadableStream, toAsyncIterator } from "../common/streams.ts";
import type { Metadata } from "../wire/extensions.ts";
import type { Context, Middleware } from "../typed/context.ts";
import type { ClientCall, ClientMiddleware } from "../typed/caller.ts";
import { StreamedReply } from "../typed/streamed_reply.ts";
import { metadataGetter, metadataSetter, W3CTraceContext } from "./propagation.ts";
import { finish, INSTRUMENTATION_NAME, instrumentsFor, Names, type TracingOptions } from "./spans.ts";

export { metadataGetter, metadataSetter, TRACEPARENT, TRACESTATE, W3CTraceContext } from "./propagation.ts";
export { codeOf, INSTRUMENTATION_NAME, namesOf, type TracingOptions } from "./spans.ts";
export { cmdTracing } from "./cmd_tracing.ts";


/** Middleware for both sides: give `client` to createClient, `server` to serve. */
export interface Tracing {
  /** For `createClient(conn, { middleware: [t.client] })`: a CLIENT span per call, its context sent in metadata. */
  readonly client: ClientMiddleware;
  /** For `serve(router, target, { middleware: [t.server] })`: a SERVER span per call, a child of the caller's. */
  readonly server: Middleware<Context>;
}

/** Spans, propagation and histograms for typed calls on both sides (see the module comment). */
export function tracing(options: TracingOptions = {}): Tracing {
  const tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_NAME);
  const propagator = options.propagator ?? new W3CTraceContext();
  const extra = options.attributes;
  const instruments = instrumentsFor(options.meter);

  const names = new Names(extra);

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
