/**
 * Errors weft surfaces to applications. Codes follow gRPC's fixed set so they read the
 * same across stacks; on the wire a reset (StreamRst) carries the code's number in cmd.
 */

export const ErrorCodes = [
  "unspecified", // 0: qrpc's plain reset, sent when a handler returns without replying
  "cancelled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

export type ErrorCode = typeof ErrorCodes[number];

/** The reset reason (cmd of a StreamRst frame) for an error code. */
export function resetReasonOf(code: ErrorCode): number {
  return ErrorCodes.indexOf(code);
}

/** The error code for a reset reason; reasons weft does not know read as "unknown". */
export function codeOfResetReason(reason: number): ErrorCode {
  return ErrorCodes[reason] ?? "unknown";
}

export interface RpcErrorOptions {
  cause?: unknown;
  details?: unknown;
  /** The peer never started handling the call (see `RpcError.unprocessed`). */
  unprocessed?: boolean;
  /** Server: this request is turned away before its work began (see `RpcError.refused`). */
  refused?: boolean;
}

/** A failed call, stream or connection: `code` says what kind, `message` says what happened. */
export class RpcError extends Error {
  override name = "RpcError";
  readonly code: ErrorCode;
  readonly details: unknown;
  /**
   * True when the call never reached a handler: refused before it was sent (the connection
   * was closing or gone), or refused by the peer before it ran (closing, too many calls, a
   * rate limit). Such a call can be sent again, to this peer or another, without running twice.
   */
  readonly unprocessed: boolean;
  /**
   * Thrown by a server's handler or middleware: the request is turned away before its work
   * began (a rate limit), so the caller receives it `unprocessed` and may send it again. Only
   * this says so: an `unprocessed` error a handler got from a call of its own and let escape
   * is not passed on as unprocessed (its own caller's call did run).
   */
  readonly refused: boolean;

  constructor(code: ErrorCode, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.unprocessed = options.unprocessed === true;
    this.refused = options.refused === true;
  }
}

/**
 * How long the peer asked the caller to wait before trying again, in ms: the `retryAfter`
 * of an error's details (a rate limit's answer), or undefined.
 */
export function retryAfterOf(error: unknown): number | undefined {
  const details = error instanceof RpcError ? error.details : undefined;
  const value = (details as { retryAfter?: unknown } | null | undefined)?.retryAfter;
  return typeof value === "number" && value >= 0 ? value : undefined;
}

/**
 * The peer broke the framing (length below 12, a frame over the size limit, garbage).
 * The connection it came on is closed; other connections are untouched.
 */
export class ProtocolError extends RpcError {
  override name = "ProtocolError";

  constructor(message: string) {
    super("internal", message);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The body a reset carries to a weft peer: the error's message and details as JSON.
 * (A plain qrpc peer gets qrpc's empty reset; the code travels in cmd either way.)
 */
export function encodeResetBody(message: string, details: unknown, unprocessed = false): Uint8Array {
  const body: { message: string; details?: unknown; unprocessed?: true } = { message };
  if (details !== undefined) body.details = details;
  if (unprocessed) body.unprocessed = true;
  return encoder.encode(JSON.stringify(body));
}

/**
 * The error a call gets when the peer resets it with `reason`, and with `body` when the
 * peer speaks weft (its message and details); without a body, weft explains the code.
 */
export function errorForReset(reason: number, what: string, body?: Uint8Array): RpcError {
  if (body !== undefined && body.length > 0) {
    try {
      const parsed = JSON.parse(decoder.decode(body));
      if (typeof parsed?.message === "string") {
        const code = codeOfResetReason(reason);
        return new RpcError(code === "unspecified" ? "unknown" : code, parsed.message, {
          details: parsed.details,
          unprocessed: parsed.unprocessed === true,
        });
      }
    } catch {
      // Not a body weft wrote: fall back to the code alone.
    }
  }
  const code = codeOfResetReason(reason);
  const why = RESET_EXPLANATIONS[code] ?? `reset by the peer (reason ${reason})`;
  return new RpcError(code === "unspecified" ? "unknown" : code, `${what}: ${why}`);
}

const RESET_EXPLANATIONS: Partial<Record<ErrorCode, string>> = {
  unspecified: "reset by the peer without a reply (reason 0)",
  cancelled: "cancelled by the peer",
  unimplemented: "no such cmd on the peer",
  internal: "the peer's handler failed",
  unavailable: "the peer is shutting down",
  resource_exhausted: "the peer has too many calls in flight",
  deadline_exceeded: "deadline exceeded on the peer",
};
