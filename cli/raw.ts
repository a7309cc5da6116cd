/**
 * `weft raw URL --cmd N --data …`: one request on a numbered cmd with plain bytes, for plain
 * qrpc servers (and weft's core handlers). Prints the reply as text when it is printable
 * UTF-8, else as `0x…` hex; a streamed reply prints one line per frame.
 */
import { flag, numberFlag, parseArgs, positionals } from "./args.ts";
import { type Command, DIAL_FLAGS, DIAL_HELP, URL_HELP } from "./command.ts";
import { dial, dialOptionsOf, hangUp } from "./dial.ts";
import { EXIT_CODES_HELP, usage } from "./errors.ts";
import { metadataOf } from "./metadata.ts";
import { bytesForDisplay, bytesFromArgument, printLine } from "./output.ts";
import { CALL_FLAGS, CALL_HELP } from "./call.ts";

export const raw: Command = {
  name: "raw",
  summary: "send bytes to a numbered cmd (plain qrpc servers)",
  help: `Usage: weft raw URL --cmd N [--data DATA] [options]

Sends one request to cmd N (0 to 16777215; a server routes on the low 16 bits) and prints
the reply: as text when it is printable UTF-8, else as 0x-prefixed hex. A streamed reply
prints one line per frame.

${URL_HELP}

Options:
  --cmd N                the cmd to call (required)
  --data DATA            the payload: 0x-prefixed hex (0x68690a), @FILE (its bytes), or
                         else the text itself as UTF-8 (default: empty)
  --nonblocking          let the server run it alongside other requests (qrpc NB flag)
${CALL_HELP}
${DIAL_HELP}
  -h, --help             this help

Examples:
  weft raw tcp://127.0.0.1:7000 --cmd 1 --data weft
  weft raw tls://example.com:7443 --cmd 7 --data 0x0102ff --ca ca.pem

${EXIT_CODES_HELP}`,
  async run(argv) {
    const parsed = parseArgs(argv, [...CALL_FLAGS, ...DIAL_FLAGS, { name: "cmd" }, { name: "data" }, {
      name: "nonblocking",
      boolean: true,
    }]);
    const [url] = positionals(parsed, ["URL"]);
    const cmd = numberFlag(parsed, "cmd", { min: 0, max: 0xffffff, integer: true });
    if (cmd === undefined) throw usage("--cmd N is required");
    const data = flag(parsed, "data");
    const payload = data === undefined ? new Uint8Array(0) : await bytesFromArgument(data);
    const metadata = metadataOf(parsed.flags.get("header"));
    const timeout = numberFlag(parsed, "timeout", { min: 1 });
    const nonBlocking = flag(parsed, "nonblocking") !== undefined;
    const connection = await dial(url, dialOptionsOf(parsed));
    try {
      const response = await connection.request(cmd, payload, { timeout, metadata, nonBlocking });
      for await (const frame of response) await printLine(bytesForDisplay(frame));
    } finally {
      await hangUp(connection);
    }
  },
};
