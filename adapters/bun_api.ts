/**
 * The slice of Bun's API that the Bun adapters use, typed here instead of taken from
 * `@types/bun`. So the adapters type-check on any runtime (Deno checks each JSR entry point
 * on its own), and their published declarations ask no Bun type package of the user.
 * `bunApi()` reads the global when an adapter is used, not when it is imported.
 */

/** A TCP socket from `Bun.listen` / `Bun.connect`, carrying the adapter's state in `data`. */
export interface BunSocket<Data> {
  data: Data;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive?(enable?: boolean, initialDelay?: number): unknown;
  pause(): void;
  resume(): void;
  end(): unknown;
  terminate(): void;
  /** Bytes taken (possibly fewer than offered), or -1 once the socket is closed. */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
}

/** The handlers every socket of one listener (or one connect) shares. */
export interface BunSocketHandler<Data> {
  binaryType?: "uint8array";
  open?(socket: BunSocket<Data>): void;
  data?(socket: BunSocket<Data>, data: Uint8Array): void;
  drain?(socket: BunSocket<Data>): void;
  end?(socket: BunSocket<Data>): void;
  close?(socket: BunSocket<Data>, error?: Error): void;
  error?(socket: BunSocket<Data>, error: Error): void;
  /** TLS only: the handshake finished, or failed (a certificate that does not verify). */
  handshake?(socket: BunSocket<Data>, success: boolean, error: (Error & { code?: string }) | null): void;
}

/** Bun's TLS options, as far as weft uses them. */
export interface BunTlsOptions {
  cert?: string;
  key?: string;
  ca?: string[];
  serverName?: string;
}

/** What `Bun.listen` and `Bun.serve` return, as far as weft cares. */
export interface BunListening {
  readonly port?: number;
  /** `false`: stop accepting, leave live connections alone. */
  stop(closeActiveConnections?: boolean): unknown;
}

export interface BunApi {
  listen<Data>(options: { hostname: string; port: number; tls?: BunTlsOptions; socket: BunSocketHandler<Data> }): BunListening;
  connect<Data>(
    options: { hostname: string; port: number; tls?: boolean | BunTlsOptions; socket: BunSocketHandler<Data> },
  ): Promise<BunSocket<Data>>;
  serve(options: {
    hostname: string;
    port: number;
    tls?: BunTlsOptions;
    // deno-lint-ignore no-explicit-any
    fetch(request: Request, server: any): Response | Promise<Response>;
    websocket: object;
  }): BunListening;
}

/** The running Bun, or a clear error for whoever imported a Bun adapter elsewhere. */
export function bunApi(): BunApi {
  const bun = (globalThis as unknown as { Bun?: BunApi }).Bun;
  if (bun === undefined) {
    throw new Error("this weft adapter needs Bun: on Node use @weft/rpc/node, on Deno @weft/rpc/deno");
  }
  return bun;
}
