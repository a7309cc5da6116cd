/**
 * How many connections a server admits: in all, and from one remote address. A connection
 * over a cap is still read just long enough to tell a weft client why (ERROR with
 * `resource_exhausted`, which fails its calls with that reason); a plain qrpc client, which
 * cannot read that, sees its connection close. So that refusing cannot itself be flooded,
 * refusals in progress are bounded too: past that bound a connection is dropped at once.
 */
import { RpcError } from "../common/errors.ts";

/** Connections being refused at once, past which more are dropped without a word. */
const MAX_REFUSING = 1024;
/** How long a refused connection is kept to hear the client and tell it why. */
export const REFUSAL_WINDOW_MS = 2000;

export interface CapOptions {
  /** Connections a server holds at once (default: no limit). */
  maxConnections?: number;
  /** Connections from one remote address (IP, without the port) at once (default: no limit). */
  maxConnectionsPerAddress?: number;
}

/** The host part of "host:port" (IPv6 hosts keep their colons). */
export function hostOf(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return "";
  const colon = remoteAddress.lastIndexOf(":");
  const host = colon < 0 ? remoteAddress : remoteAddress.slice(0, colon);
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

export class ConnectionCaps {
  readonly #max: number;
  readonly #maxPerAddress: number;
  #admitted = 0;
  readonly #perAddress = new Map<string, number>();
  #refusing = 0;

  constructor(options: CapOptions) {
    this.#max = checkedCap(options.maxConnections, "maxConnections");
    this.#maxPerAddress = checkedCap(options.maxConnectionsPerAddress, "maxConnectionsPerAddress");
  }

  /** True when no cap is set: admit() always returns null. */
  get unlimited(): boolean {
    return this.#max === Infinity && this.#maxPerAddress === Infinity;
  }

  /**
   * Admits a connection from `host` (counted until `release(host)`), or says why not: an
   * RpcError to refuse it with, or "drop" when too many refusals are already under way.
   */
  admit(host: string): RpcError | "drop" | null {
    const fromHost = this.#perAddress.get(host) ?? 0;
    let refusal: RpcError | null = null;
    if (this.#admitted >= this.#max) {
      refusal = new RpcError("resource_exhausted", `the server holds its limit of ${this.#max} connections`);
    } else if (fromHost >= this.#maxPerAddress) {
      refusal = new RpcError("resource_exhausted", `the server holds its limit of ${this.#maxPerAddress} connections from ${host || "one address"}`);
    }
    if (refusal === null) {
      this.#admitted++;
      this.#perAddress.set(host, fromHost + 1);
      return null;
    }
    if (this.#refusing >= MAX_REFUSING) return "drop";
    this.#refusing++;
    return refusal;
  }

  /** An admitted connection from `host` closed. */
  release(host: string): void {
    this.#admitted--;
    const left = (this.#perAddress.get(host) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(host, left);
    else this.#perAddress.delete(host);
  }

  /** A refused connection closed. */
  refused(): void {
    this.#refusing--;
  }
}

function checkedCap(value: number | undefined, name: string): number {
  if (value === undefined) return Infinity;
  if (!(value >= 1) || !Number.isInteger(value) && value !== Infinity) {
    throw new TypeError(`${name} must be a whole number >= 1, got ${value}`);
  }
  return value;
}
