/**
 * @weft/rpc/otel on the OpenTelemetry SDK: one trace spanning a client's call, the server's
 * handler, the handler's call back to the client and the client's handler (parents, kinds,
 * attributes, W3C trace context in metadata), error status, a streamed reply's span lasting
 * as long as the stream, and the duration and size histograms, read by an in-memory reader.
 * Without an SDK, tracing() sends no trace context and calls go through unchanged.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AggregationTemporality, type DataPoint, type Histogram, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { combineHooks, type Hooks, RpcError } from "../mod.ts";
import { createClient, router, serve, serverStream, unary } from "../src/typed/mod.ts";
import { cmdTracing, tracing, W3CTraceContext } from "../src/otel/mod.ts";
import { cleanup, collect, typedPair } from "./support/typed.ts";
import { type Pair, startPair } from "./support/harness.ts";
import { str, text } from "./support/bytes.ts";

/** A reader the test collects from when it wants (no timer). */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });
const t = tracing({ tracer: provider.getTracer("weft-test"), meter: meterProvider.getMeter("weft-test") });

afterEach(async () => {
  await cleanup();
  exporter.reset();
});
afterAll(async () => {
  await meterProvider.shutdown();
  await provider.shutdown();
  context.disable();
});

/** What the client serves on its own connection: the server calls it back. */
const clientRoutes = router({
  ui: router({
    confirm: unary({ input: v.string(), output: v.boolean() }, (question) => question.endsWith("?")),
  }),
});

const serverRoutes = router({
  ops: router({
    deploy: unary({ input: v.string(), output: v.string() }, async (version, ctx) => {
      const peer = createClient<typeof clientRoutes>(ctx.connection, { middleware: [t.client] });
      return (await peer.ui.confirm(`deploy ${version}?`)) ? `deployed ${version}` : "not deployed";
    }),
    fail: unary({ input: v.string(), output: v.string() }, () => {
      throw new RpcError("not_found", "no such release");
    }),
    headers: unary({ input: v.null(), output: v.record(v.string(), v.string()) }, (_, ctx) => {
      const out: Record<string, string> = {};
      for (const [key, value] of Object.entries(ctx.metadata)) if (typeof value === "string") out[key] = value;
      return out;
    }),
    count: serverStream({ input: v.number(), output: v.number() }, async function* (n, ctx) {
      const peer = createClient<typeof clientRoutes>(ctx.connection, { middleware: [t.client] });
      for (let i = 1; i <= n; i++) {
        await peer.ui.confirm(`item ${i}?`); // made while streaming: a child of the stream's span
        yield i;
      }
    }),
  }),
});

async function tracedPair() {
  const pair = await typedPair(serverRoutes, { serve: { middleware: [t.server] }, clientOptions: { middleware: [t.client] } });
  serve(clientRoutes, pair.client, { middleware: [t.server] });
  return pair;
}

const byName = (spans: ReadableSpan[], name: string, kind: SpanKind) => {
  const found = spans.filter((span) => span.name === name && span.kind === kind);
  if (found.length !== 1) throw new Error(`${found.length} ${SpanKind[kind]} spans named ${name}: ${spans.map((s) => `${s.name}/${SpanKind[s.kind]}`).join(", ")}`);
  return found[0];
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
/**
 * A span's end in ms. The SDK anchors each local root's clock to Date.now() when it starts
 * (a span with a remote parent is one), so ends of spans of different roots disagree by up to
 * a millisecond or so: time comparisons across them allow that much.
 */
const endOf = (span: ReadableSpan) => span.endTime[0] * 1e3 + span.endTime[1] / 1e6;
const SKEW_MS = 3;

/** Spans finish on each side when its call ends; the client's own span ends last. */
async function spans(count: number): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 3000;
  while (exporter.getFinishedSpans().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return exporter.getFinishedSpans();
}

describe("OpenTelemetry tracing", () => {
  test("one trace: client call -> server handler -> its call back to the client -> the client's handler", async () => {
    const pair = await tracedPair();
    expect(await pair.api.ops.deploy("v2")).toBe("deployed v2");
    const all = await spans(4);
    expect(all.length).toBe(4);
    const outer = byName(all, "ops/deploy", SpanKind.CLIENT);
    const served = byName(all, "ops/deploy", SpanKind.SERVER);
    const callBack = byName(all, "ui/confirm", SpanKind.CLIENT);
    const answered = byName(all, "ui/confirm", SpanKind.SERVER);
    // One trace, each span the child of the one before it, across the connection both ways.
    expect(new Set(all.map((span) => span.spanContext().traceId)).size).toBe(1);
    expect(parentOf(outer)).toBeUndefined();
    expect(parentOf(served)).toBe(outer.spanContext().spanId);
    expect(served.parentSpanContext?.isRemote).toBe(true);
    expect(parentOf(callBack)).toBe(served.spanContext().spanId);
    expect(parentOf(answered)).toBe(callBack.spanContext().spanId);
    expect(answered.parentSpanContext?.isRemote).toBe(true);
    // Semantic-convention attributes.
    for (const span of all) {
      expect(span.attributes["rpc.system"]).toBe("weft");
      expect(span.attributes["rpc.weft.code"]).toBe("ok");
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
    }
    expect(outer.attributes["rpc.service"]).toBe("ops");
    expect(outer.attributes["rpc.method"]).toBe("deploy");
    expect(answered.attributes["rpc.service"]).toBe("ui");
    expect(answered.attributes["rpc.method"]).toBe("confirm");
    expect(served.attributes["network.peer.address"]).toBe(pair.serverSide.remoteAddress);
    expect(typeof served.attributes["network.peer.address"]).toBe("string");
    // Nesting in time too: each child ends before its parent.
    expect(endOf(outer)).toBeGreaterThanOrEqual(endOf(served) - SKEW_MS);
    expect(endOf(served)).toBeGreaterThanOrEqual(endOf(callBack) - SKEW_MS);
  });

  test("the trace context travels as W3C traceparent in the call's metadata, beside the caller's own", async () => {
    const pair = await tracedPair();
    const seen = await pair.api.ops.headers(null, { metadata: { tenant: "acme" } });
    expect(seen.tenant).toBe("acme");
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const outer = byName(await spans(2), "ops/headers", SpanKind.CLIENT);
    expect(seen.traceparent).toBe(`00-${outer.spanContext().traceId}-${outer.spanContext().spanId}-01`);
  });

  test("a failing call: ERROR status and the RpcError's code on both sides", async () => {
    const pair = await tracedPair();
    const error = await pair.api.ops.fail("v3").catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("not_found");
    const all = await spans(2);
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      const span = byName(all, "ops/fail", kind);
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.status.message).toBe("no such release");
      expect(span.attributes["rpc.weft.code"]).toBe("not_found");
      expect(span.events.some((event) => event.name === "exception")).toBe(true);
    }
  });

  test("a streamed reply: its spans last until the stream ends; calls the handler makes while streaming are its children", async () => {
    const pair = await tracedPair();
    expect(await collect(pair.api.ops.count(3))).toEqual([1, 2, 3]);
    const all = await spans(8);
    const outer = byName(all, "ops/count", SpanKind.CLIENT);
    const served = byName(all, "ops/count", SpanKind.SERVER);
    const callBacks = all.filter((span) => span.name === "ui/confirm" && span.kind === SpanKind.CLIENT);
    expect(callBacks.length).toBe(3);
    for (const span of callBacks) expect(parentOf(span)).toBe(served.spanContext().spanId);
    expect(parentOf(served)).toBe(outer.spanContext().spanId);
    for (const span of callBacks) expect(endOf(served)).toBeGreaterThanOrEqual(endOf(span) - SKEW_MS);
    expect(endOf(outer)).toBeGreaterThanOrEqual(endOf(served) - SKEW_MS);
  });

  test("histograms: rpc.client.duration and rpc.server.duration (ms) by procedure and code; request and response sizes", async () => {
    const pair = await tracedPair();
    await pair.api.ops.deploy("v4");
    await pair.api.ops.fail("v5").catch(() => {});
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const metrics = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
    const points = (name: string) =>
      (metrics.find((metric) => metric.descriptor.name === name)?.dataPoints ?? []) as DataPoint<Histogram>[];
    const where = (name: string, method: string, code?: string) =>
      points(name).filter((p) => p.attributes["rpc.method"] === method && (code === undefined || p.attributes["rpc.weft.code"] === code));
    expect(metrics.find((metric) => metric.descriptor.name === "rpc.client.duration")?.descriptor.unit).toBe("ms");
    for (const side of ["client", "server"]) {
      const deploys = where(`rpc.${side}.duration`, "deploy", "ok");
      expect(deploys.length).toBe(1);
      expect(deploys[0].value.count).toBeGreaterThanOrEqual(1);
      expect(deploys[0].attributes["rpc.service"]).toBe("ops");
      expect(deploys[0].attributes["rpc.system"]).toBe("weft");
      expect(where(`rpc.${side}.duration`, "fail", "not_found")[0].value.count).toBeGreaterThanOrEqual(1);
      expect(where(`rpc.${side}.duration`, "confirm", "ok")[0].value.count).toBeGreaterThanOrEqual(1);
    }
    const requestSize = where("rpc.server.request.size", "deploy")[0].value;
    expect(requestSize.count).toBeGreaterThanOrEqual(1);
    expect(requestSize.sum).toBeGreaterThan(0);
    expect(where("rpc.client.response.size", "deploy")[0].value.sum).toBeGreaterThan(0);
  });
});

describe("cmd-level calls (cmdTracing, on the engine's hooks)", () => {
  const cmdPairs: Pair[] = [];
  afterEach(async () => {
    for (const pair of cmdPairs.splice(0)) await pair.close();
  });
  const hooks: Hooks = cmdTracing({ tracer: provider.getTracer("weft-test"), meter: meterProvider.getMeter("weft-test") });

  async function cmdPair(): Promise<Pair> {
    const pair = await startPair((server) => {
      server.handle(5, (req) => text(`echo ${str(req.payload)}`));
      server.handle(6, () => {
        throw new RpcError("failed_precondition", "not today");
      });
      serve(serverRoutes, server, { middleware: [t.server] });
    }, { server: { hooks }, client: { hooks } });
    cmdPairs.push(pair);
    return pair;
  }

  test("a CLIENT and a SERVER span per call, one trace when the call has metadata to carry it", async () => {
    const pair = await cmdPair();
    expect(str((await pair.client.request(5, text("a"), { metadata: {} })).payload)).toBe("echo a");
    const all = await spans(2);
    const client = byName(all, "cmd 5", SpanKind.CLIENT);
    const server = byName(all, "cmd 5", SpanKind.SERVER);
    expect(server.spanContext().traceId).toBe(client.spanContext().traceId);
    expect(parentOf(server)).toBe(client.spanContext().spanId);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    for (const span of [client, server]) {
      expect(span.attributes["rpc.system"]).toBe("weft");
      expect(span.attributes["rpc.method"]).toBe("cmd 5");
      expect(span.attributes["rpc.weft.code"]).toBe("ok");
    }
    expect(server.attributes["network.peer.address"]).toBe(pair.serverSide.remoteAddress);
  });

  test("without metadata the call goes as it was: two spans, two traces; a failure is an ERROR on both", async () => {
    const pair = await cmdPair();
    await pair.client.request(5, text("b"));
    const error = await pair.client.request(6).catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("failed_precondition");
    const all = await spans(4);
    expect(byName(all, "cmd 5", SpanKind.SERVER).spanContext().traceId).not.toBe(byName(all, "cmd 5", SpanKind.CLIENT).spanContext().traceId);
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      const failed = byName(all, "cmd 6", kind);
      expect(failed.status.code).toBe(SpanStatusCode.ERROR);
      expect(failed.attributes["rpc.weft.code"]).toBe("failed_precondition");
    }
  });

  test("typed calls are left to tracing(): no cmd spans for them, and combineHooks runs it beside other hooks", async () => {
    const seen: number[] = [];
    const counting: Hooks = { requestStarted: (request) => void seen.push(request.cmd) };
    const pair = await typedPair(serverRoutes, {
      server: { hooks: combineHooks(hooks, counting) },
      serve: { middleware: [t.server] },
      clientOptions: { middleware: [t.client] },
    });
    expect(await pair.api.ops.fail("x").catch((e) => e.code)).toBe("not_found");
    const all = await spans(2);
    expect(all.map((span) => span.name).sort()).toEqual(["ops/fail", "ops/fail"]);
    expect(seen.length).toBe(1);
  });
});

describe("without an SDK (the API's no-ops)", () => {
  test("no trace context is sent and calls go through unchanged", async () => {
    const plain = tracing(); // the global tracer and meter: no provider is registered in this file
    const pair = await typedPair(serverRoutes, { serve: { middleware: [plain.server] }, clientOptions: { middleware: [plain.client] } });
    const seen = await pair.api.ops.headers(null, { metadata: { tenant: "acme" } });
    expect(seen).toEqual({ tenant: "acme" });
    expect((await pair.api.ops.fail("x").catch((e) => e)).code).toBe("not_found");
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  test("the W3C propagator refuses malformed and all-zero traceparents", () => {
    const w3c = new W3CTraceContext();
    const getter = { keys: (c: Record<string, string>) => Object.keys(c), get: (c: Record<string, string>, k: string) => c[k] };
    const root = context.active();
    for (const bad of ["", "00-xyz", `00-${"0".repeat(32)}-${"1".repeat(16)}-01`, `ff-${"1".repeat(32)}-${"1".repeat(16)}-01`]) {
      expect(w3c.extract(root, { traceparent: bad }, getter)).toBe(root);
    }
    expect(w3c.extract(root, { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01` }, getter)).not.toBe(root);
  });
});
