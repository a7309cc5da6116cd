/**
 * The stats collector (src/metrics/stats.ts) on a real server over TCP: connections, requests
 * by procedure and code, in flight, durations, bytes, heartbeat losses; its Prometheus text
 * (src/metrics/prometheus.ts) parsed back by a small parser below; and the Hono routes
 * (adapters/hono_debug.ts): /metrics and the debug page behind an auth hook, and the page's
 * event stream, which stops when its client goes away.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import * as v from "valibot";
import { RpcError, Server } from "../mod.ts";
import { type Authorize, mountDebugPage, mountMetrics } from "../adapters/metrics.ts";
import { Histogram, MetricsWriter, prometheusText, Stats } from "../src/metrics/mod.ts";
import { createClient, router, serve, serverStream, unary } from "../src/typed/mod.ts";
import { sleep, str, text, until } from "./support/bytes.ts";
import { type Pair, startPair } from "./support/harness.ts";
import { adapter, overTcp } from "./support/runtime.ts";

const pairs: Pair[] = [];
afterEach(async () => {
  for (const pair of pairs.splice(0)) await pair.close();
});

let releaseSlow: (() => void) | null = null;
const api = router({
  greet: unary({ input: v.object({ name: v.string() }), output: v.string() }, ({ name }) => `hello, ${name}`),
  fail: unary({ input: v.optional(v.undefined()), output: v.string() }, () => {
    throw new RpcError("not_found", "nothing here");
  }),
  slow: unary({ input: v.optional(v.undefined()), output: v.string() }, () => new Promise<string>((resolve) => (releaseSlow = () => resolve("done")))),
  count: serverStream({ input: v.number(), output: v.number() }, async function* (n) {
    for (let i = 0; i < n; i++) yield i;
  }),
  pinned: unary({ cmd: 7, input: v.string(), output: v.string() }, (s) => s.toUpperCase()),
});

async function served(stats: Stats): Promise<{ pair: Pair; client: ReturnType<typeof createClient<typeof api>> }> {
  const pair = await startPair((server) => {
    serve(api, server);
    server.handle(1, (req) => req.payload);
  }, { server: { hooks: stats.hooks } });
  pairs.push(pair);
  return { pair, client: createClient<typeof api>(pair.client) };
}

// ---- a tiny parser of the Prometheus text format, to read the output back ----------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Parsed {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

function parseLabels(body: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf("=", i);
    const key = body.slice(i, eq).trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) throw new Error(`bad label name "${key}"`);
    if (body[eq + 1] !== '"') throw new Error(`label ${key}: value not quoted`);
    let j = eq + 2;
    let value = "";
    for (; body[j] !== '"'; j++) {
      if (j >= body.length) throw new Error("unterminated label value");
      if (body[j] === "\\") {
        const next = body[++j];
        value += next === "n" ? "\n" : next === "\\" ? "\\" : next === '"' ? '"' : (() => {
          throw new Error(`bad escape \\${next}`);
        })();
      } else {
        value += body[j];
      }
    }
    labels[key] = value;
    i = j + 1;
    if (body[i] === ",") i++;
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(text)) throw new Error(`bad value "${text}"`);
  return Number(text);
}

function parsePrometheus(textIn: string): Parsed {
  const parsed: Parsed = { help: new Map(), type: new Map(), samples: [] };
  if (!textIn.endsWith("\n")) throw new Error("the exposition must end with a newline");
  for (const line of textIn.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const [name, ...rest] = line.slice(7).split(" ");
      parsed.help.set(name, rest.join(" "));
    } else if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) throw new Error(`bad type ${type}`);
      parsed.type.set(name, type);
    } else if (line.startsWith("#") || line === "") {
      continue;
    } else {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
      if (match === null) throw new Error(`bad sample line: ${line}`);
      const name = match[1];
      const family = name.replace(/_(bucket|sum|count)$/, "");
      if (!parsed.type.has(name) && !parsed.type.has(family)) throw new Error(`sample ${name} before its TYPE`);
      parsed.samples.push({ name, labels: match[3] === undefined ? {} : parseLabels(match[3]), value: parseValue(match[4]) });
    }
  }
  return parsed;
}

function sample(parsed: Parsed, name: string, labels: Record<string, string> = {}): number | undefined {
  return parsed.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) &&
    Object.keys(s.labels).length === Object.keys(labels).length)?.value;
}

// ---- tests ---------------------------------------------------------------------------------

describe("stats", () => {
  test("after real calls: requests by procedure and code, in flight, durations, bytes, connections", async () => {
    const stats = new Stats({ router: api });
    const { pair, client } = await served(stats);
    expect(stats.open).toBe(1);
    expect(await client.greet({ name: "a" })).toBe("hello, a");
    expect(await client.greet({ name: "b" })).toBe("hello, b");
    expect(await client.fail().catch((e: RpcError) => e.code)).toBe("not_found");
    const items: number[] = [];
    for await (const item of client.count(3)) items.push(item);
    expect(items).toEqual([0, 1, 2]);
    expect(str((await pair.client.request(1, text("plain"))).payload)).toBe("plain");

    const slow = client.slow();
    await until(() => stats.procedure("slow")?.inFlight === 1, 2000, "slow to be in flight");
    expect(stats.snapshot().connections.live[0].requestsInFlight).toBe(1);
    releaseSlow!();
    expect(await slow).toBe("done");
    await until(() => stats.procedure("slow")?.inFlight === 0 && stats.procedure("count")?.calls === 1, 2000, "the ends");

    const greet = stats.procedure("greet")!;
    expect(greet.calls).toBe(2);
    expect(Object.fromEntries(greet.codes)).toEqual({ ok: 2 });
    expect(greet.durations.count).toBe(2);
    expect(greet.bytesIn).toBeGreaterThan(2 * "greet".length);
    expect(Object.fromEntries(stats.procedure("fail")!.codes)).toEqual({ not_found: 1 });
    expect(Object.fromEntries(stats.procedure("cmd 1")!.codes)).toEqual({ ok: 1 });
    expect(stats.procedure("pinned")!.calls).toBe(0); // known from the router before any call

    const snapshot = stats.snapshot();
    const byName = Object.fromEntries(snapshot.procedures.map((p) => [p.name, p]));
    expect(byName.fail.errors).toBe(1);
    expect(byName.greet.p50).not.toBeNull();
    expect(byName.greet.p99!).toBeGreaterThanOrEqual(byName.greet.p50!);
    expect(snapshot.connections.open).toBe(1);
    const live = snapshot.connections.live[0];
    expect(live.remoteAddress).toMatch(/127\.0\.0\.1|::1/);
    expect(live.codec).toBe(pair.client.codec); // as agreed ("raw" unless the client asked for another)
    expect(live.requests).toBe(6);
    expect(live.bytesRead).toBeGreaterThan(0);
    expect(live.bytesWritten).toBeGreaterThan(0);
    expect(snapshot.connections.bytesRead).toBe(live.bytesRead);
    expect(live.peerAgent).toMatch(/^weft\/\d+\.\d+\.\d+ /);
    expect(live.streams.framesWritten).toBe(4); // count(3): three items and the end
    expect(snapshot.connections.streams).toEqual(live.streams);

    pair.client.destroy();
    await until(() => stats.open === 0, 2000, "the close");
    expect(stats.closed).toBe(1);
    expect(stats.bytesRead).toBe(live.bytesRead); // kept after the close
    expect(stats.streams).toEqual(live.streams);
  });

  test("calls this side makes are counted by cmd; names are learned up to maxNames, then lumped", async () => {
    const stats = new Stats({ maxNames: 2 });
    const pair = await startPair((server) => {
      serve(api, server);
    }, { server: { hooks: stats.hooks }, client: { hooks: stats.hooks } });
    pairs.push(pair);
    const client = createClient<typeof api>(pair.client);
    await client.greet({ name: "x" });
    await client.fail().catch(() => {});
    expect(await client.pinned("abc")).toBe("ABC");
    await until(() => stats.procedures.reduce((n, p) => n + p.calls, 0) === 3, 2000, "three ends");
    expect(stats.procedures.map((p) => p.name).sort()).toEqual(["(other)", "fail", "greet"]);
    const called = stats.calls;
    expect(called.map((c) => c.name)).toContain("cmd 65535");
    expect(called.reduce((n, c) => n + c.calls, 0)).toBe(3);
  });

  test("a peer gone silent counts as a heartbeat loss", async () => {
    if (!overTcp) return;
    const { startFreezableProxy } = await import("./support/freezable_proxy.ts");
    const stats = new Stats();
    const server = new Server({ heartbeatInterval: 50, hooks: stats.hooks });
    const listener = await adapter.listen(server, { port: 0 });
    const proxy = await startFreezableProxy(listener.port);
    const client = await adapter.connect({ port: proxy.port, heartbeatInterval: 50, greetEagerly: true });
    try {
      await until(() => client.protocolVersion === 1 && [...server.connections][0]?.protocolVersion === 1, 3000, "agreement");
      proxy.freeze();
      await until(() => stats.heartbeatLosses === 1, 3000, "the server to give up on the peer");
      expect(stats.closedWithError).toBe(1);
    } finally {
      client.destroy();
      proxy.close();
      await server.close({ timeout: 100 });
    }
  });

  test("histogram percentiles come from the buckets", () => {
    const h = new Histogram([1, 10, 100]);
    expect(h.percentile(0.5)).toBeUndefined();
    for (let i = 0; i < 90; i++) h.observe(0.5);
    for (let i = 0; i < 10; i++) h.observe(50);
    expect(h.count).toBe(100);
    expect(Array.from(h.counts)).toEqual([90, 0, 10, 0]);
    expect(h.percentile(0.5)).toBeCloseTo(0.5 / 0.9 * 1, 5); // within the first bucket, interpolated from 0
    expect(h.percentile(0.99)).toBeCloseTo(10 + 90 * 0.9, 5);
    h.observe(5000);
    expect(h.percentile(1)).toBe(100); // past the last bound: the last bound
  });
});

describe("prometheus", () => {
  test("the text parses back, with the values of real calls", async () => {
    const stats = new Stats({ router: api });
    const { pair, client } = await served(stats);
    await client.greet({ name: "a" });
    await client.greet({ name: "b" });
    await client.greet({ name: "c" });
    await client.fail().catch(() => {});
    await until(() => stats.procedure("fail")!.calls === 1, 2000, "the failure's end");
    const parsed = parsePrometheus(prometheusText(stats));
    expect(parsed.type.get("weft_requests_total")).toBe("counter");
    expect(parsed.type.get("weft_request_duration_seconds")).toBe("histogram");
    expect(parsed.type.get("weft_connections_open")).toBe("gauge");
    expect(sample(parsed, "weft_connections_open")).toBe(1);
    expect(sample(parsed, "weft_connections_opened_total")).toBe(1);
    expect(sample(parsed, "weft_requests_total", { procedure: "greet", code: "ok" })).toBe(3);
    expect(sample(parsed, "weft_requests_total", { procedure: "fail", code: "not_found" })).toBe(1);
    expect(sample(parsed, "weft_requests_in_flight", { procedure: "greet" })).toBe(0);
    expect(sample(parsed, "weft_request_duration_seconds_count", { procedure: "greet" })).toBe(3);
    expect(sample(parsed, "weft_request_duration_seconds_bucket", { procedure: "greet", le: "+Inf" })).toBe(3);
    // buckets are cumulative and end at the count
    const buckets = parsed.samples.filter((s) => s.name === "weft_request_duration_seconds_bucket" && s.labels.procedure === "greet");
    expect(buckets.length).toBe(stats.procedure("greet")!.durations.bounds.length + 1);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    expect(buckets.map((b) => b.labels.le).slice(0, 3)).toEqual(["0.0005", "0.001", "0.0025"]);
    expect(sample(parsed, "weft_request_duration_seconds_sum", { procedure: "greet" })!).toBeGreaterThan(0);
    expect(sample(parsed, "weft_received_bytes_total")!).toBeGreaterThan(0);
    expect(sample(parsed, "weft_sent_bytes_total")!).toBe(pair.serverSide.bytes.written);
    expect(parsed.help.get("weft_requests_total")).toContain("by procedure");
    // Stream frames and flow-control stalls: three items and the end frame went down one stream.
    const items: number[] = [];
    for await (const item of client.count(3)) items.push(item);
    expect(items).toEqual([0, 1, 2]);
    await until(() => pair.serverSide.streams.framesWritten === 4, 2000, "the stream's end");
    const streamed = parsePrometheus(prometheusText(stats));
    expect(streamed.type.get("weft_stream_frames_total")).toBe("counter");
    expect(sample(streamed, "weft_stream_frames_total", { direction: "sent" })).toBe(pair.serverSide.streams.framesWritten);
    expect(sample(streamed, "weft_stream_frames_total", { direction: "received" })).toBe(pair.serverSide.streams.framesRead);
    expect(sample(streamed, "weft_flow_control_stalls_total", { kind: "send_waited" })).toBe(0);
    expect(sample(streamed, "weft_flow_control_stalls_total", { kind: "read_paused" })).toBe(0);
  });

  test("label values are escaped: backslash, quote, newline", () => {
    const odd = 'a\\b"c\nd';
    const out = new MetricsWriter()
      .counter("x_total", "help with \\ and\nnewline", [[{ name: odd }, 2]])
      .gauge("y", "a gauge", [[undefined, 1.5], [{ k: "" }, Infinity]])
      .toString();
    expect(out).toContain('x_total{name="a\\\\b\\"c\\nd"} 2');
    expect(out).toContain("# HELP x_total help with \\\\ and\\nnewline");
    const parsed = parsePrometheus(out);
    expect(sample(parsed, "x_total", { name: odd })).toBe(2);
    expect(sample(parsed, "y")).toBe(1.5);
    expect(sample(parsed, "y", { k: "" })).toBe(Infinity);
  });
});

describe("hono routes", () => {
  const auth: Authorize = (c) => {
    const header = c.req.header("authorization");
    if (header === undefined) return false;
    return header === "Bearer sesame" ? true : new Response("forbidden", { status: 403 });
  };
  const good = { headers: { authorization: "Bearer sesame" } };

  test("/metrics and the page: 401 without credentials, 403 with wrong ones, 200 with the right ones", async () => {
    const stats = new Stats({ router: api });
    const app = new Hono();
    mountMetrics(app, stats, { auth });
    mountDebugPage(app, { stats, router: api, auth, path: "/debug" });
    for (const path of ["/metrics", "/debug", "/debug/events", "/debug/snapshot.json"]) {
      expect({ path, status: (await app.request(path)).status }).toEqual({ path, status: 401 });
      const wrong = await app.request(path, { headers: { authorization: "Bearer nope" } });
      expect({ path, status: wrong.status }).toEqual({ path, status: 403 });
    }
    const metrics = await app.request("/metrics", good);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(parsePrometheus(await metrics.text()).type.get("weft_requests_total")).toBe("counter");
    const page = await app.request("/debug", good);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("greet");
    expect(html).toContain('"shape":"serverStream"');
    expect(html).toContain("/debug/events");
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/); // self-contained: nothing to fetch but its events
    const snapshot = await (await app.request("/debug/snapshot.json", good)).json();
    expect(snapshot.procedures.map((p: { name: string }) => p.name)).toContain("greet");
  });

  test("the event stream sends a snapshot at once and on every tick, and stops when the client goes away", async () => {
    const stats = new Stats({ router: api });
    let snapshots = 0;
    const original = stats.snapshot.bind(stats);
    stats.snapshot = () => (snapshots++, original());
    const app = new Hono();
    mountDebugPage(app, { stats, router: api, intervalMs: 20 });
    const response = await app.request("/weft/events");
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let received = "";
    while ((received.match(/\n\n/g) ?? []).length < 3) received += decoder.decode((await reader.read()).value);
    const first = JSON.parse(received.split("\n\n")[0].replace(/^data: /, ""));
    expect(first.procedures.map((p: { name: string }) => p.name)).toContain("greet");
    await reader.cancel();
    const after = snapshots;
    await sleep(100);
    expect(snapshots - after).toBeLessThanOrEqual(1); // at most one tick already under way
  });
});
