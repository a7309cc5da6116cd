/**
 * Where a client connects: `tcp://host:port`, `tls://host:port`, `ws://host:port/path` or
 * `wss://…`. One string names an endpoint everywhere (options, state events, errors,
 * consistent hashing), so that a registry can hand the client the same strings later.
 */

export type Scheme = "tcp" | "tls" | "ws" | "wss";

export interface Endpoint {
  /** The endpoint as given, normalised (`tcp://127.0.0.1:4000`). */
  readonly url: string;
  readonly scheme: Scheme;
  readonly hostname: string;
  readonly port: number;
}

const DEFAULT_PORTS: Record<Scheme, number | undefined> = { tcp: undefined, tls: undefined, ws: 80, wss: 443 };

/** Reads an endpoint URL; a TypeError names what is wrong with it. */
export function parseEndpoint(text: string): Endpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`endpoint "${text}" is not a URL: use tcp://host:port, tls://host:port, ws://… or wss://…`);
  }
  const scheme = url.protocol.slice(0, -1) as Scheme;
  if (!(scheme in DEFAULT_PORTS)) {
    throw new TypeError(`endpoint "${text}": the scheme must be tcp, tls, ws or wss, got ${scheme}`);
  }
  // Non-special schemes (tcp:, tls:) keep brackets and case as written: host names are
  // lower-cased here so that two spellings are one endpoint (for hashing, for setEndpoints).
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const web = scheme === "ws" || scheme === "wss";
  if (!web && (url.pathname !== "" && url.pathname !== "/" || url.search !== "")) {
    throw new TypeError(`endpoint "${text}": a ${scheme} endpoint is host:port, with no path`);
  }
  const port = url.port === "" ? DEFAULT_PORTS[scheme] : Number(url.port);
  if (hostname === "") throw new TypeError(`endpoint "${text}" has no host`);
  if (port === undefined) throw new TypeError(`endpoint "${text}" has no port`);
  const normal = web ? url.href : `${scheme}://${url.host.toLowerCase()}`;
  return Object.freeze({ url: normal, scheme, hostname, port });
}
