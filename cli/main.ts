#!/usr/bin/env node
/**
 * `weft`: weft's command line, like grpcurl for weft. Lists and describes a server's
 * procedures, calls them (streams both ways), sends raw bytes to qrpc cmds, and load-tests.
 *
 *   node --import tsx cli/main.ts --help     (in the repo; or bun cli/main.ts, deno run -A cli/main.ts)
 *   npx @weft/rpc --help                     (installed: the package's "weft" bin)
 *   bunx --bun @weft/rpc --help              (installed, on Bun: without --bun, bunx follows the shebang to Node)
 *   deno run -A npm:@weft/rpc --help         (installed in node_modules, on Deno)
 */
import process from "node:process";
import { bench } from "./bench.ts";
import { call } from "./call.ts";
import type { Command } from "./command.ts";
import { describe } from "./describe.ts";
import { CliError, EXIT_CODES_HELP, exitOf, ExitCode, usage } from "./errors.ts";
import { list } from "./list.ts";
import { raw } from "./raw.ts";

const COMMANDS: readonly Command[] = [list, describe, call, raw, bench];

const HELP = `weft: talk to a weft (or qrpc) server from the command line

Usage: weft COMMAND URL [arguments] [options]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`).join("\n")}

URL is tcp://host:port, tls://host:port, ws://host:port/path or wss://host:port/path.
Run "weft COMMAND --help" for a command's arguments and options.

Examples:
  weft list tcp://127.0.0.1:7000
  weft describe tcp://127.0.0.1:7000 hello
  weft call tcp://127.0.0.1:7000 hello '{"name":"ada"}'
  weft raw tcp://127.0.0.1:7000 --cmd 1 --data weft
  weft bench tcp://127.0.0.1:7000 hello '{"name":"ada"}' -c 50 -d 10

${EXIT_CODES_HELP}`;

/** Runs the command line `argv` (without the runtime and script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      process.stderr.write(`${HELP}\n`);
      return ExitCode.invalidInput;
    }
    if (name === "--help" || name === "-h" || name === "help") {
      process.stdout.write(`${HELP}\n`);
      return ExitCode.ok;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (command === undefined) throw usage(`unknown command "${name}" (the commands: ${COMMANDS.map((c) => c.name).join(", ")})`);
    if (rest.includes("--help") || rest.includes("-h")) {
      process.stdout.write(`${command.help}\n`);
      return ExitCode.ok;
    }
    await command.run(rest);
    return ExitCode.ok;
  } catch (error) {
    const { code, message } = exitOf(error);
    const known = COMMANDS.some((c) => c.name === name);
    process.stderr.write(`weft${known ? ` ${name}` : ""}: ${message}\n`);
    // A usage mistake (not the server's invalid_argument) points at the help.
    if (error instanceof CliError && code === ExitCode.invalidInput) {
      process.stderr.write(`(see "weft${known ? ` ${name}` : ""} --help")\n`);
    }
    return code;
  }
}

const code = await main(process.argv.slice(2));
// Exit once stdout has drained; open handles (a stdin reader) must not keep the process up.
process.stdout.write("", () => process.exit(code));
