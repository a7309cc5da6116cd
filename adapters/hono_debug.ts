/**
 * A server's insides over HTTP, on any Hono app: Prometheus text at `/metrics`, and a debug
 * page (one self-contained HTML, no external assets) with the router's procedures and their
 * JSON Schemas, live connections, call counts, errors by code and latency percentiles,
 * updated every second over server-sent events.
 *
 *   const stats = new Stats({ router: api });
 *   const server = new Server({ hooks: stats.hooks });
 *   mountMetrics(app, stats, { auth });                 // GET /metrics
 *   mountDebugPage(app, { stats, router: api, auth });  // GET /weft, /weft/events, /weft/snapshot.json
 *
 * `auth` decides per HTTP request, from Hono's Context: true lets it through, false answers
 * 401, and a Response is answered as it is (a 403, a redirect to a login page). Without one,
 * anyone who reaches the route sees it: mount it on an internal port, or give one.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import { describe } from "../src/typed/json_schema.ts";
import type { Router } from "../src/typed/router.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../src/metrics/prometheus.ts";
import type { Stats } from "../src/metrics/stats.ts";
import { debugPageHtml } from "./hono_debug_page.ts";

/** Decides whether an HTTP request may see a route: true, false (401), or the Response to answer with. */
export type Authorize = (c: Context) => boolean | Response | Promise<boolean | Response>;

export interface MetricsRouteOptions {
  /** Default "/metrics". */
  path?: string;
  auth?: Authorize;
  /** Starts every metric's name (default "weft"). */
  prefix?: string;
}

export interface DebugPageOptions {
  stats: Stats;
  /** The router served: the page lists its procedures with their shapes and JSON Schemas. */
  router?: Router;
  /** Default "/weft"; the events are at `{path}/events`, one JSON snapshot at `{path}/snapshot.json`. */
  path?: string;
  auth?: Authorize;
  /** How often the page gets a snapshot, in ms (default 1000). */
  intervalMs?: number;
  /** The page's title (default "weft"). */
  title?: string;
}

/** Middleware that runs `auth` first. */
export function authorized(auth: Authorize | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (auth === undefined) return next();
    const verdict = await auth(c);
    if (verdict === true) return next();
    if (verdict instanceof Response) return verdict;
    return c.text("unauthorized", 401, { "www-authenticate": 'Bearer realm="weft"' });
  };
}

/** Serves `stats` as Prometheus text at `options.path` (default /metrics). */
export function mountMetrics<App extends Hono<any, any, any>>(app: App, stats: Stats, options: MetricsRouteOptions = {}): App {
  app.get(options.path ?? "/metrics", authorized(options.auth), (c) =>
    c.body(prometheusText(stats, options.prefix), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }));
  return app;
}

/** Serves the debug page at `options.path` (default /weft), its events and a JSON snapshot. */
export function mountDebugPage<App extends Hono<any, any, any>>(app: App, options: DebugPageOptions): App {
  const path = (options.path ?? "/weft").replace(/\/$/, "");
  const { stats } = options;
  const guard = authorized(options.auth);
  const intervalMs = options.intervalMs ?? 1000;
  let html: string | null = null;
  app.get(path === "" ? "/" : path, guard, (c) => {
    html ??= debugPageHtml({
      title: options.title ?? "weft",
      eventsUrl: `${path}/events`,
      contract: options.router === undefined ? null : describe(options.router),
    });
    return c.html(html);
  });
  app.get(`${path}/snapshot.json`, guard, (c) => c.json(stats.snapshot()));
  app.get(`${path}/events`, guard, (c) => eventStream(stats, intervalMs, c.req.raw.signal));
  return app;
}

/** Server-sent events: a snapshot now and every `intervalMs`, until the client goes away. */
function eventStream(stats: Stats, intervalMs: number, signal: AbortSignal | undefined): Response {
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  let close = () => {};
  const stop = () => {
    stopped = true;
    clearInterval(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  const onAbort = () => {
    stop();
    close();
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = () => {
        if (stopped) return;
        try {
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(stats.snapshot())}\n\n`));
        } catch {
          stop(); // the stream is closed: the client went away
        }
      };
      close = () => {
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      send();
      timer = setInterval(send, intervalMs);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort);
    },
    cancel: stop,
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}
