/** Options and shapes shared by the TCP adapters, so all three read the same to their users. */
import { type ConnectionOptions, RpcError } from "../mod.ts";
import { startTimer, stopTimer, type Timer } from "../src/common/timers.ts";

export interface ListenOptions {
  /** Default "127.0.0.1". */
  hostname?: string;
  /** Default 0: the system picks a free port (read it back from `listener.port`). */
  port?: number;
  /** Serve over TLS with this certificate and key, with the runtime's own TLS. */
  tls?: TlsServerOptions;
}

/** A server's certificate chain and private key, PEM-encoded. */
export interface TlsServerOptions {
  cert: string;
  key: string;
}

/**
 * A client's TLS: `true` verifies the server against the runtime's default CAs; `ca`
 * trusts these instead (PEM). The server's name is checked against `hostname`, or
 * `serverName` when given. Verification is never turned off.
 */
export type TlsClientOptions = true | { ca?: string | string[]; serverName?: string };

export interface ConnectOptions extends ConnectionOptions {
  /** Default "127.0.0.1". */
  hostname?: string;
  port: number;
  /** Milliseconds to wait for the TCP (and TLS) handshake before failing with `unavailable`. Default 10000. */
  connectTimeout?: number;
  /** Connect over TLS (see TlsClientOptions). */
  tls?: TlsClientOptions;
}

/** The CAs of a TlsClientOptions as a list, or undefined for the runtime's defaults. */
export function caList(tls: TlsClientOptions): string[] | undefined {
  if (tls === true || tls.ca === undefined) return undefined;
  return Array.isArray(tls.ca) ? tls.ca : [tls.ca];
}

/** A listening TCP socket that feeds a Server. */
export interface TcpListener {
  readonly hostname: string;
  readonly port: number;
  /** `tcp://hostname:port` (`tls://` with TLS): what a channel dials, and what a Server's registration advertises. */
  readonly endpoint: string;
  /** Stops accepting. Live connections stay: close them with `server.close()`. */
  close(): Promise<void>;
}

export const DEFAULT_HOSTNAME = "127.0.0.1";

/** A TCP listener's endpoint string (an IPv6 hostname in brackets). */
export function tcpEndpoint(hostname: string, port: number, tls: boolean): string {
  return `${tls ? "tls" : "tcp"}://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}
/**
 * TCP keepalive on every socket, after this much silence: a peer that vanishes before the
 * first call (when weft's heartbeats have not started) is found by the OS's probes.
 */
export const KEEPALIVE_IDLE_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/** The error every adapter's connect() rejects with when the peer cannot be reached. */
export function connectError(hostname: string, port: number, cause: unknown): RpcError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new RpcError("unavailable", `cannot connect to ${hostname}:${port}: ${why}`, { cause });
}

/** Races a connect attempt against the connect timeout. */
export function withConnectTimeout<T>(
  attempt: Promise<T>,
  options: ConnectOptions,
  onTimeout: () => void,
): Promise<T> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const ms = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = startTimer(() => {
      onTimeout();
      reject(connectError(hostname, options.port, new Error(`timed out after ${ms} ms`)));
    }, ms);
  });
  return Promise.race([
    attempt.catch((error) => {
      throw error instanceof RpcError ? error : connectError(hostname, options.port, error);
    }),
    timeout,
  ]).finally(() => stopTimer(timer));
}
