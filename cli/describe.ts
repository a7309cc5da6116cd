/** `weft describe URL procedure`: one procedure's shape and JSON Schemas, by reflection. */
import { parseArgs, positionals } from "./args.ts";
import { type Command, DIAL_FLAGS, DIAL_HELP, URL_HELP } from "./command.ts";
import { contractOf } from "./contract.ts";
import { dial, dialOptionsOf, hangUp } from "./dial.ts";
import { CliError, EXIT_CODES_HELP, ExitCode } from "./errors.ts";
import { printLine, prettyJson } from "./output.ts";

export const describe: Command = {
  name: "describe",
  summary: "show a procedure's (or event's) shape and JSON Schemas (needs reflection)",
  help: `Usage: weft describe URL NAME [options]

Prints the procedure's shape, pinned cmd, and input and output JSON Schemas (or an event's
data schema) as JSON, from the server's reflection procedure $weft.describe.

${URL_HELP}

Options:
${DIAL_HELP}
  -h, --help             this help

Example:
  weft describe tcp://127.0.0.1:7000 users.get

${EXIT_CODES_HELP}`,
  async run(argv) {
    const parsed = parseArgs(argv, [...DIAL_FLAGS]);
    const [url, name] = positionals(parsed, ["URL", "NAME"]);
    const connection = await dial(url, dialOptionsOf(parsed));
    try {
      const contract = await contractOf(connection);
      const procedure = Object.hasOwn(contract.procedures, name) ? contract.procedures[name] : undefined;
      const event = Object.hasOwn(contract.events, name) ? contract.events[name] : undefined;
      if (procedure !== undefined) await printLine(prettyJson({ name, ...procedure }));
      else if (event !== undefined) await printLine(prettyJson({ name, shape: "event", ...event }));
      else {
        const known = Object.keys(contract.procedures).sort().join(", ");
        throw new CliError(ExitCode.unknownProcedure, `unknown procedure "${name}" (the server has: ${known || "none"})`);
      }
    } finally {
      await hangUp(connection);
    }
  },
};
