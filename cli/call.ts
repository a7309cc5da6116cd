/**
 * `weft call URL NAME '{json}'`: calls a procedure by name. A server stream prints one JSON
 * line per item; a client stream (or bidi) reads its inputs as JSON lines from stdin.
 */
import { RpcError } from "../mod.ts";
import { numberFlag, parseArgs, positionals } from "./args.ts";
import { type Command, DIAL_FLAGS, DIAL_HELP, URL_HELP } from "./command.ts";
import { contractIfServed, shapeOf, takesStream } from "./contract.ts";
import { dial, dialOptionsOf, hangUp } from "./dial.ts";
import { EXIT_CODES_HELP, usage } from "./errors.ts";
import { metadataOf } from "./metadata.ts";
import { jsonLine, parseJson, printLine } from "./output.ts";
import { jsonLinesFromStdin } from "./stdin.ts";
import { callByName } from "./typed_call.ts";

/** Flags `call` and `bench` share. */
export const CALL_FLAGS = [
  { name: "header", short: "H", repeatable: true },
  { name: "timeout" },
] as const;
export const CALL_HELP = `  -H, --header KEY=VALUE call metadata (repeatable); the handler reads ctx.metadata
  --timeout MS           the call's deadline; past it, the call fails with deadline_exceeded`;

export const call: Command = {
  name: "call",
  summary: "call a procedure by name (unary, streams both ways)",
  help: `Usage: weft call URL NAME [JSON] [options]

Calls the procedure NAME with the input JSON (none: no input) and prints each output as one
line of JSON: one line for a unary or client-stream call, one per item for a server stream
or bidi. A client stream or bidi reads its inputs from stdin, one JSON value per line (the
shape comes from the server's reflection; without reflection, pass "-" as JSON to stream
stdin). Bidi prints replies as they come.

${URL_HELP}

Options:
${CALL_HELP}
${DIAL_HELP}
  -h, --help             this help

Examples:
  weft call tcp://127.0.0.1:7000 hello '{"name":"ada"}'
  weft call tcp://127.0.0.1:7000 users.get 7 -H user=ada --timeout 500
  weft call ws://127.0.0.1:7000/qrpc ticker '{"count":3}'
  printf '1\\n2\\n3\\n' | weft call tcp://127.0.0.1:7000 sum

${EXIT_CODES_HELP}`,
  async run(argv) {
    const parsed = parseArgs(argv, [...CALL_FLAGS, ...DIAL_FLAGS]);
    const [url, name, text] = positionals(parsed, ["URL", "NAME"], ["JSON"]);
    const fromStdin = text === "-";
    const value = text === undefined || fromStdin ? undefined : parseJson(text, "the input");
    const metadata = metadataOf(parsed.flags.get("header"));
    const timeout = numberFlag(parsed, "timeout", { min: 1 });
    const connection = await dial(url, dialOptionsOf(parsed));
    try {
      const contract = await contractIfServed(connection, timeout);
      const shape = shapeOf(contract, name);
      const streamed = fromStdin || takesStream(shape);
      if (streamed && text !== undefined && !fromStdin) {
        throw usage(`"${name}" is a ${shape}: it reads its inputs from stdin, one JSON value per line, not from an argument`);
      }
      let badLine: Error | undefined;
      const input = streamed ? jsonLinesFromStdin((error) => (badLine = error)) : value;
      const reply = callByName(connection, name, input, { timeout, metadata });
      try {
        for await (const item of reply) await printLine(jsonLine(item));
      } catch (error) {
        // A stdin line that is not JSON cancels the call: report the line, not the cancel.
        if (badLine !== undefined && error instanceof RpcError) throw badLine;
        throw error;
      }
    } finally {
      await hangUp(connection);
    }
  },
};
