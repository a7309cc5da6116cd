/** What every command is: a name, its help, and what it does with its arguments. */

export interface Command {
  readonly name: string;
  /** One line for `weft --help`. */
  readonly summary: string;
  /** The command's own `--help`. */
  readonly help: string;
  /** Runs it; throws to fail (main.ts turns the error into a message and an exit code). */
  run(argv: readonly string[]): Promise<void>;
}

/** Flags every command that dials takes, and their help lines. */
export const DIAL_FLAGS = [{ name: "ca" }, { name: "codec" }, { name: "connect-timeout" }] as const;
export const DIAL_HELP = `  --ca FILE              PEM CAs to trust for tls:// and wss:// (default: the system's)
  --codec json|msgpack   payload codec (default json)
  --connect-timeout MS   how long to wait for the connection (default 10000)`;

export const URL_HELP = `URL is tcp://host:port, tls://host:port, ws://host:port/path or wss://host:port/path.`;
