/**
 * Who this end is, for the peer's operators: weft's version and the runtime it runs on, as
 * `weft/0.2.0 Bun/1.3.1`. It travels once per connection in the handshake (HELLO and
 * SETTINGS' `agent`, PROTOCOL.md §13), as gRPC's `user-agent` header does, so a server's debug
 * page can say which runtime each client runs. Found by feature tests on Web-standard globals:
 * `navigator.userAgent` (Deno, Bun, Node 21+, Workers, browsers), else Node's version.
 */

/** weft's version; tests/architecture.test.ts checks it against package.json. */
export const WEFT_VERSION = "0.2.0";

/** An agent string is cut to this many characters (a browser's user agent can be long). */
export const MAX_AGENT_LENGTH = 200;

let cached: string | undefined;

/** This end's agent string: `weft/<version> <runtime>/<version>` (computed once). */
export function localAgent(): string {
  return (cached ??= `weft/${WEFT_VERSION} ${runtimeOf(globalThis)}`.slice(0, MAX_AGENT_LENGTH));
}

interface Globals {
  navigator?: { userAgent?: unknown };
  process?: { versions?: { node?: unknown } };
}

function runtimeOf(globals: Globals): string {
  const userAgent = globals.navigator?.userAgent;
  if (typeof userAgent === "string" && userAgent !== "") return userAgent;
  const node = globals.process?.versions?.node;
  return typeof node === "string" ? `Node.js/${node}` : "unknown";
}

/** A peer's agent as the wire gave it: printable text, cut to size, or null when it sent none. */
export function agentOf(value: unknown): string | null {
  if (typeof value !== "string" || value === "") return null;
  return value.slice(0, MAX_AGENT_LENGTH).replace(/[^\x20-\x7e]/g, "?");
}
