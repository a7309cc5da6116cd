/**
 * The command line's exit codes, and how a failure becomes one. Every command throws; only
 * main.ts prints and exits, so the mapping lives in one place.
 */
import { RpcError } from "../mod.ts";

/** What `weft` exits with; `weft --help` lists them. */
export const ExitCode = {
  ok: 0,
  /** An RPC error other than the ones below: its code and message are printed. */
  rpcError: 1,
  /** Bad arguments, a bad JSON input, or an input the server refused (`invalid_argument`). */
  invalidInput: 2,
  /** The server could not be reached. */
  unreachable: 3,
  /** The server has no such procedure (its `unimplemented`), or serves no reflection. */
  unknownProcedure: 4,
} as const;

/** The exit codes as `--help` shows them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the call failed with another RPC error (its code and message are printed)
  2  invalid input: bad arguments, bad JSON, or the server's invalid_argument
  3  the server could not be reached (the message names the URL)
  4  unknown procedure (the server's unimplemented), or no reflection served`;

/** A failure the command line reports with its own message and exit code. */
export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: number;
  constructor(exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A usage mistake (exit 2), naming what is wrong. */
export function usage(message: string): CliError {
  return new CliError(ExitCode.invalidInput, message);
}

/** Any failure as the line to print and the code to exit with. */
export function exitOf(error: unknown): { code: number; message: string } {
  if (error instanceof CliError) return { code: error.exitCode, message: error.message };
  if (error instanceof RpcError) {
    const text = `${error.code}: ${error.message}${detailsOf(error)}`;
    switch (error.code) {
      case "unimplemented":
        return { code: ExitCode.unknownProcedure, message: `unknown procedure: ${text}` };
      case "invalid_argument":
        return { code: ExitCode.invalidInput, message: `invalid input: ${text}` };
      default:
        return { code: ExitCode.rpcError, message: text };
    }
  }
  return { code: ExitCode.rpcError, message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

/** An error's details (valibot's issues, say) as a trailing line, when it has any. */
function detailsOf(error: RpcError): string {
  if (error.details === undefined || error.details === null) return "";
  try {
    return `\n  details: ${JSON.stringify(error.details)}`;
  } catch {
    return "";
  }
}
