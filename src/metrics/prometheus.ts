/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: HELP and TYPE
 * lines, counters, gauges and histograms (`_bucket{le=...}`, `_sum`, `_count`), label values
 * escaped. `prometheusText(stats)` is what a `/metrics` route returns.
 */
import type { CallStats, Stats } from "./stats.ts";

/** The content type of the format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Readonly<Record<string, string>>;

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Escapes HELP text: backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function labelText(labels: Labels | undefined, extra?: string): string {
  const parts: string[] = [];
  if (labels !== undefined) for (const key in labels) parts.push(`${key}="${escapeLabel(labels[key])}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** One histogram's series: its bucket bounds, per-bucket counts (the last unbounded), sum and count. */
export interface HistogramSeries {
  labels?: Labels;
  bounds: readonly number[];
  counts: ArrayLike<number>;
  sum: number;
  count: number;
}

/** Builds one exposition, metric family by family. */
export class MetricsWriter {
  readonly #lines: string[] = [];

  #family(name: string, type: string, help: string): void {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  counter(name: string, help: string, samples: Iterable<[Labels | undefined, number]>): this {
    this.#family(name, "counter", help);
    for (const [labels, value] of samples) this.#lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  gauge(name: string, help: string, samples: Iterable<[Labels | undefined, number]>): this {
    this.#family(name, "gauge", help);
    for (const [labels, value] of samples) this.#lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  /** `scale` multiplies bounds and sum (1/1000: milliseconds recorded, seconds exposed). */
  histogram(name: string, help: string, series: Iterable<HistogramSeries>, scale = 1): this {
    this.#family(name, "histogram", help);
    for (const s of series) {
      let cumulative = 0;
      for (let i = 0; i <= s.bounds.length; i++) {
        cumulative += s.counts[i];
        const le = i === s.bounds.length ? "+Inf" : formatValue(round(s.bounds[i] * scale));
        this.#lines.push(`${name}_bucket${labelText(s.labels, `le="${le}"`)} ${formatValue(cumulative)}`);
      }
      this.#lines.push(`${name}_sum${labelText(s.labels)} ${formatValue(round(s.sum * scale))}`);
      this.#lines.push(`${name}_count${labelText(s.labels)} ${formatValue(s.count)}`);
    }
    return this;
  }

  toString(): string {
    return this.#lines.length === 0 ? "" : `${this.#lines.join("\n")}\n`;
  }
}

/** Rounds away float noise (0.0025 * 1 stays 0.0025, not 0.0025000000000000005). */
function round(value: number): number {
  return Number(value.toPrecision(12));
}

function* byCode(entries: readonly CallStats[], label: string): Iterable<[Labels, number]> {
  for (const entry of entries) for (const [code, count] of entry.codes) yield [{ [label]: entry.name, code }, count];
}

/** `stats` as Prometheus text; `prefix` (default "weft") starts every metric's name. */
export function prometheusText(stats: Stats, prefix = "weft"): string {
  const served = stats.procedures;
  const called = stats.calls;
  const streams = stats.streams;
  return new MetricsWriter()
    .gauge(`${prefix}_connections_open`, "Connections open now.", [[undefined, stats.open]])
    .counter(`${prefix}_connections_opened_total`, "Connections opened.", [[undefined, stats.opened]])
    .counter(`${prefix}_connections_closed_total`, "Connections closed, by whether an error closed them.", [
      [{ reason: "graceful" }, stats.closed - stats.closedWithError],
      [{ reason: "error" }, stats.closedWithError],
    ])
    .counter(`${prefix}_heartbeat_losses_total`, "Connections closed because the peer went silent past its heartbeats.", [[undefined, stats.heartbeatLosses]])
    .counter(`${prefix}_received_bytes_total`, "Bytes read from peers.", [[undefined, stats.bytesRead]])
    .counter(`${prefix}_sent_bytes_total`, "Bytes of frames written to peers.", [[undefined, stats.bytesWritten]])
    .gauge(`${prefix}_streams_open`, "Calls and requests in flight with a stream either way.", [[undefined, streams.open]])
    .counter(`${prefix}_stream_frames_total`, "Frames of streams (either stream bit), by direction.", [
      [{ direction: "received" }, streams.framesRead],
      [{ direction: "sent" }, streams.framesWritten],
    ])
    .counter(`${prefix}_flow_control_stalls_total`, "Flow-control stalls: sends that waited for the peer's window, and read pauses for an overfull stream.", [
      [{ kind: "send_waited" }, streams.creditWaits],
      [{ kind: "read_paused" }, streams.readPauses],
    ])
    .counter(`${prefix}_requests_total`, "Requests served, by procedure (or cmd) and code.", byCode(served, "procedure"))
    .gauge(`${prefix}_requests_in_flight`, "Requests being served, by procedure.", served.map((e) => [{ procedure: e.name }, e.inFlight]))
    .counter(`${prefix}_request_received_bytes_total`, "Bytes of requests' first payloads, by procedure.", served.map((e) => [{ procedure: e.name }, e.bytesIn]))
    .histogram(
      `${prefix}_request_duration_seconds`,
      "How long requests took to serve, by procedure.",
      served.map((e) => ({ labels: { procedure: e.name }, ...seriesOf(e) })),
      1 / 1000,
    )
    .counter(`${prefix}_calls_total`, "Calls this side made, by cmd and code.", byCode(called, "cmd"))
    .gauge(`${prefix}_calls_in_flight`, "Calls this side is waiting on, by cmd.", called.map((e) => [{ cmd: e.name }, e.inFlight]))
    .histogram(
      `${prefix}_call_duration_seconds`,
      "How long calls this side made took, by cmd.",
      called.map((e) => ({ labels: { cmd: e.name }, ...seriesOf(e) })),
      1 / 1000,
    )
    .toString();
}

function seriesOf(entry: CallStats): Omit<HistogramSeries, "labels"> {
  const h = entry.durations;
  return { bounds: h.bounds, counts: h.counts, sum: h.sum, count: h.count };
}
