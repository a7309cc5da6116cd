/** `weft list URL`: the server's procedures and events, by reflection. */
import { flag, parseArgs, positionals } from "./args.ts";
import { type Command, DIAL_FLAGS, DIAL_HELP, URL_HELP } from "./command.ts";
import { contractOf } from "./contract.ts";
import { dial, dialOptionsOf, hangUp } from "./dial.ts";
import { EXIT_CODES_HELP } from "./errors.ts";
import { printLine } from "./output.ts";

export const list: Command = {
  name: "list",
  summary: "list the server's procedures and events (needs reflection)",
  help: `Usage: weft list URL [options]

Lists the procedures (name, shape, pinned cmd) and events the server serves, from its
reflection procedure $weft.describe (serve(api, server, { reflection: true })).

${URL_HELP}

Options:
${DIAL_HELP}
  --json                 print the whole contract as JSON
  -h, --help             this help

Example:
  weft list tcp://127.0.0.1:7000

${EXIT_CODES_HELP}`,
  async run(argv) {
    const parsed = parseArgs(argv, [...DIAL_FLAGS, { name: "json", boolean: true }]);
    const [url] = positionals(parsed, ["URL"]);
    const connection = await dial(url, dialOptionsOf(parsed));
    try {
      const contract = await contractOf(connection);
      if (flag(parsed, "json") !== undefined) {
        await printLine(JSON.stringify(contract, null, 2));
        return;
      }
      const names = Object.keys(contract.procedures).sort();
      const width = Math.max(0, ...names.map((name) => name.length));
      for (const name of names) {
        const procedure = contract.procedures[name];
        const cmd = procedure.cmd === undefined ? "" : `  cmd ${procedure.cmd}`;
        const about = procedure.description === undefined ? "" : `  ${procedure.description}`;
        await printLine(`${name.padEnd(width)}  ${procedure.shape}${cmd}${about}`);
      }
      for (const name of Object.keys(contract.events).sort()) await printLine(`${name}  event`);
    } finally {
      await hangUp(connection);
    }
  },
};
