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
