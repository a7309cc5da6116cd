/**
 * Spans for cmd-level calls (`conn.request(cmd, …)`, `conn.call(cmd)`), which the typed
 * middleware of `tracing()` never sees. They come from the engine's hooks: give
 * `cmdTracing()` as `hooks` to a Server or a connection (with `combineHooks` beside a `Stats`).
 */
import { context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import type { Hooks } from "../engine/hooks.ts";
import { PROCEDURE_CMD } from "../typed/wire.ts";
import { metadataGetter, metadataSetter, W3CTraceContext } from "./propagation.ts";
import { finish, INSTRUMENTATION_NAME, instrumentsFor, Names, type TracingOptions } from "./spans.ts";

/**
 * A CLIENT span for each call this end makes and a SERVER span for each request it serves,
 * named `cmd N`, with `rpc.system` "weft", `rpc.method` "cmd N", `rpc.weft.code` and ERROR
 * status on failure, and the same duration and size histograms as `tracing()`.
 *
 * - A request whose metadata carries `traceparent` continues the caller's trace.
 * - A call carries its context only if it has a metadata object to write it into
 *   (`{ metadata: {} }` will do). The engine makes no object for calls that have none.
 * - The handler does not run inside the server span's context: calls it makes start their
 *   own traces unless it passes the context on.
 * - Typed calls (their procedure cmd) are left to `tracing()`.
 */
export function cmdTracing(options: TracingOptions = {}): Hooks {
  const tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_NAME);
  const propagator = options.propagator ?? new W3CTraceContext();
  const instruments = instrumentsFor(options.meter);
  const names = new Names(options.attributes);
  return {
    callStarted(_connection, cmd, callOptions) {
      if (cmd === PROCEDURE_CMD) return;
      const started = performance.now();
      const path = names.of(`cmd ${cmd}`);
      const parent = context.active();
      const span = tracer.startSpan(path.spanName, { kind: SpanKind.CLIENT, attributes: path.attributes }, parent);
      const metadata = callOptions?.metadata;
      if (metadata !== undefined) {
        try {
          propagator.inject(trace.setSpan(parent, span), metadata, metadataSetter);
        } catch {
          // A frozen metadata object: the call goes without the trace context.
        }
      }
      const side = instruments("client");
      return (error) => finish(span, side, path, started, error);
    },
    requestStarted(request) {
      if (request.cmd === PROCEDURE_CMD) return;
      const started = performance.now();
      const path = names.of(`cmd ${request.cmd}`);
      const parent = propagator.extract(ROOT_CONTEXT, request.metadata, metadataGetter);
      const span = tracer.startSpan(path.spanName, { kind: SpanKind.SERVER, attributes: path.attributes }, parent);
      const address = request.connection.remoteAddress;
      if (address !== undefined) span.setAttribute("network.peer.address", address);
      const side = instruments("server");
      if (!request.isStream) side.requestSize.record(request.payload.byteLength, path.attributes);
      return (error) => finish(span, side, path, started, error);
    },
  };
}
