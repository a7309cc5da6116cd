/**
 * The engine's seam for what watches it from above (metrics, tracing, rate limiting, a debug
 * page): one place where connections open and close, and where each call starts and ends,
 * on both sides. Give it as `hooks` to a Server (for each connection it accepts) or to a
 * connection. With none, the engine pays one null check per call.
 *
 * A hook runs inline, on the engine's own path: keep it short. One that throws at `callStarted`
 * or `requestStarted` refuses that call (an RpcError keeps its code: `resource_exhausted` for a
 * rate limit); one that throws anywhere else goes to `onError`.
 */
import type { CallOptions } from "./call.ts";
import type { Connection, IncomingRequest } from "./api.ts";

/** Called once when a call or request ends: with the error it failed with, if it did. */
export type EndHook = (error: unknown) => void;

export interface Hooks {
  /** A connection started, before its first frame is read. */
  connectionOpened?(connection: Connection): void;
  /** It closed, with the error that closed it (undefined for a graceful close). */
  connectionClosed?(connection: Connection, error: Error | undefined): void;
  /**
   * This end starts a call (request, streaming call), before anything is sent; return a
   * function to hear when its reply is complete or it failed. Throw to refuse the call.
   */
  callStarted?(connection: Connection, cmd: number, options: CallOptions | undefined): EndHook | void;
  /**
   * The peer's request is about to run its handler; return a function to hear when it is
   * answered or failed (reset, deadline, the connection closing). Throw to refuse it.
   */
  requestStarted?(request: IncomingRequest): EndHook | void;
}

/** An end hook that reports what it throws instead of throwing into the engine. */
export function guarded(end: EndHook, report: (error: unknown) => void): EndHook {
  return (error) => {
    try {
      end(error);
    } catch (thrown) {
      report(thrown);
    }
  };
}

/**
 * Several sets of hooks as one (`new Server({ hooks: combineHooks(stats.hooks, cmdTracing()) })`):
 * each is told of each event, in order. When one refuses a call (throws), the ones before it
 * hear the call end with that error. An end hook that throws does not keep the others from running.
 */
export function combineHooks(...all: Hooks[]): Hooks {
  const combined: Hooks = {};
  const opened = all.filter((h) => h.connectionOpened !== undefined);
  if (opened.length > 0) combined.connectionOpened = (connection) => runAll(opened, (h) => h.connectionOpened!(connection));
  const closed = all.filter((h) => h.connectionClosed !== undefined);
  if (closed.length > 0) combined.connectionClosed = (connection, error) => runAll(closed, (h) => h.connectionClosed!(connection, error));
  const calls = all.filter((h) => h.callStarted !== undefined);
  if (calls.length > 0) combined.callStarted = (connection, cmd, options) => startAll(calls, (h) => h.callStarted!(connection, cmd, options));
  const requests = all.filter((h) => h.requestStarted !== undefined);
  if (requests.length > 0) combined.requestStarted = (request) => startAll(requests, (h) => h.requestStarted!(request));
  return combined;
}

/** Runs `run` on each, then throws the first error any threw. */
function runAll<T>(items: T[], run: (item: T) => void): void {
  let failed = false;
  let first: unknown;
  for (const item of items) {
    try {
      run(item);
    } catch (error) {
      if (!failed) first = error;
      failed = true;
    }
  }
  if (failed) throw first;
}

/** Starts each; one end hook for all of them. A start that throws ends the ones before it, then refuses. */
function startAll(hooks: Hooks[], start: (hooks: Hooks) => EndHook | void): EndHook | undefined {
  const ends: EndHook[] = [];
  for (const each of hooks) {
    let end: EndHook | void;
    try {
      end = start(each);
    } catch (refusal) {
      try {
        runAll(ends, (started) => started(refusal));
      } catch {
        // The refusal is what the caller hears; an end hook's own failure is not.
      }
      throw refusal;
    }
    if (typeof end === "function") ends.push(end);
  }
  if (ends.length === 0) return undefined;
  if (ends.length === 1) return ends[0];
  return (error) => runAll(ends, (end) => end(error));
}
