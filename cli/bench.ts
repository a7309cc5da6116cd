/**
 * `weft bench URL NAME '{json}' -c N -d S`: calls a procedure over and over from N workers on
 * one connection for S seconds (like ghz), with a live progress line, then calls/s, errors
 * by code, latency percentiles and a text histogram.
 */
import { RpcError } from "../mod.ts";
import { numberFlag, parseArgs, positionals } from "./args.ts";
import { CALL_FLAGS, CALL_HELP } from "./call.ts";
import { type Command, DIAL_FLAGS, DIAL_HELP, URL_HELP } from "./command.ts";
import { contractIfServed, shapeOf, takesStream } from "./contract.ts";
import { dial, dialOptionsOf, hangUp } from "./dial.ts";
import { EXIT_CODES_HELP } from "./errors.ts";
import { formatMs, LatencyHistogram } from "./histogram.ts";
import { metadataOf } from "./metadata.ts";
import { parseJson, printLine } from "./output.ts";
import { ProgressLine } from "./progress.ts";
import { callByName } from "./typed_call.ts";
import type { Connection, Metadata } from "../mod.ts";

/** What a run measured. */
export interface BenchResult {
  readonly calls: number;
  readonly seconds: number;
  readonly errors: ReadonlyMap<string, number>;
  readonly latency: LatencyHistogram;
}

interface Plan {
  readonly name: string;
  /** A fresh input per call (a request stream cannot be sent twice). */
  readonly input: () => unknown;
  readonly timeout?: number;
  readonly metadata?: Metadata;
}

/** One call to its end: the reply read whole (every item of a stream). */
async function once(connection: Connection, plan: Plan): Promise<void> {
  for await (const _ of callByName(connection, plan.name, plan.input(), { timeout: plan.timeout, metadata: plan.metadata })) {
    // drained
  }
}

/** Runs `concurrency` workers until `seconds` are up, reporting progress every 250 ms. */
export async function runBench(
  connection: Connection,
  plan: Plan,
  concurrency: number,
  seconds: number,
  onProgress: (calls: number, errors: number, elapsed: number) => void = () => {},
): Promise<BenchResult> {
  const latency = new LatencyHistogram();
  const errors = new Map<string, number>();
  let calls = 0;
  let failed = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const began = performance.now();
      try {
        await once(connection, plan);
        latency.add(performance.now() - began);
      } catch (error) {
        const code = error instanceof RpcError ? error.code : "client_error";
        errors.set(code, (errors.get(code) ?? 0) + 1);
        failed++;
        // A dead connection fails at once: let the event loop breathe.
        if (!connection.isOpen) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      calls++;
    }
  };
  const ticker = setInterval(() => onProgress(calls, failed, (performance.now() - start) / 1000), 250);
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    clearInterval(ticker);
  }
  return { calls, seconds: (performance.now() - start) / 1000, errors, latency };
}

/** The summary `weft bench` prints. */
export function summary(result: BenchResult, concurrency: number): string[] {
  const { latency } = result;
  const ok = latency.count;
  const lines = [
    `Summary:`,
    `  calls:       ${result.calls} in ${result.seconds.toFixed(2)} s, ${concurrency} concurrent`,
    `  calls/s:     ${(result.calls / result.seconds).toFixed(1)}`,
    `  ok:          ${ok}`,
    `  errors:      ${result.calls - ok}`,
  ];
  for (const [code, n] of [...result.errors].sort((a, b) => b[1] - a[1])) lines.push(`    ${code}: ${n}`);
  lines.push(
    ``,
    `Latency (successful calls):`,
    `  p50 ${formatMs(latency.quantile(0.5))}  p90 ${formatMs(latency.quantile(0.9))}  p99 ${
      formatMs(latency.quantile(0.99))
    }  max ${formatMs(latency.max)}  mean ${formatMs(latency.mean())}`,
  );
  const bars = latency.bars();
  if (bars.length > 0) lines.push(``, `Histogram (upper bound | calls):`, ...bars.map((bar) => `  ${bar}`));
  return lines;
}

export const bench: Command = {
  name: "bench",
  summary: "load-test a procedure: calls/s, errors by code, latency percentiles",
  help: `Usage: weft bench URL NAME [JSON] [-c N] [-d SECONDS] [options]

Calls NAME with the input JSON from N concurrent workers on one connection for SECONDS,
showing a progress line on stderr (when it is a terminal), then prints calls/s, errors by
code, latency percentiles (p50, p90, p99, max) and a histogram. A streamed reply is read
to its end per call; a client stream or bidi gets JSON as its one input item. One call is
made first: if it fails, bench stops with that error's exit code.

${URL_HELP}

Options:
  -c, --concurrency N    concurrent calls (default 10)
  -d, --duration S       seconds to run (default 10)
${CALL_HELP}
${DIAL_HELP}
  -h, --help             this help

Example:
  weft bench tcp://127.0.0.1:7000 hello '{"name":"ada"}' -c 50 -d 10

${EXIT_CODES_HELP}`,
  async run(argv) {
    const parsed = parseArgs(argv, [...CALL_FLAGS, ...DIAL_FLAGS, { name: "concurrency", short: "c" }, {
      name: "duration",
      short: "d",
    }]);
    const [url, name, text] = positionals(parsed, ["URL", "NAME"], ["JSON"]);
    const value = text === undefined ? undefined : parseJson(text, "the input");
    const concurrency = numberFlag(parsed, "concurrency", { min: 1, max: 100_000, integer: true }) ?? 10;
    const seconds = numberFlag(parsed, "duration", { min: 0.1, max: 86_400 }) ?? 10;
    const metadata = metadataOf(parsed.flags.get("header"));
    const timeout = numberFlag(parsed, "timeout", { min: 1 });
    const connection = await dial(url, dialOptionsOf(parsed));
    try {
      const contract = await contractIfServed(connection, timeout);
      const shape = shapeOf(contract, name);
      const streamed = takesStream(shape);
      const input = streamed ? () => (async function* () { yield value; })() : () => value;
      const plan: Plan = { name, input, timeout, metadata };
      await once(connection, plan); // a wrong name or input fails here, with its exit code
      const progress = new ProgressLine();
      const result = await runBench(connection, plan, concurrency, seconds, (calls, errors, elapsed) => {
        progress.show(
          `${elapsed.toFixed(1)}/${seconds} s  ${calls} calls  ${(calls / Math.max(elapsed, 0.001)).toFixed(0)}/s  ${errors} errors`,
        );
      });
      progress.clear();
      for (const line of summary(result, concurrency)) await printLine(line);
    } finally {
      await hangUp(connection);
    }
  },
};
