/**
 * The slice of Deno's API that the Deno adapters use, typed here instead of taken from
 * Deno's own declarations. So the adapters compile with `tsc` for npm, and their published
 * declarations need nothing a Node or Bun user lacks; `Deno.TcpConn` fits `DenoTcpConn`.
 * `denoApi()` reads the global when an adapter is used, not when it is imported.
 */

export interface DenoNetAddr {
  hostname: string;
  port: number;
}

/** A TCP connection from `Deno.listen` / `Deno.connect`. */
export interface DenoTcpConn {
  readonly remoteAddr: DenoNetAddr;
  /** Bytes read into `buffer`, or null at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Bytes written (possibly fewer than offered). */
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  /** TCP only (a TLS connection has none). */
  setNoDelay?(noDelay?: boolean): void;
  /** TCP only. */
  setKeepAlive?(keepAlive?: boolean): void;
  /** TLS only: completes the handshake (which otherwise happens on the first read or write). */
  handshake?(): Promise<unknown>;
}

export interface DenoTcpListener extends AsyncIterable<DenoTcpConn> {
  readonly addr: DenoNetAddr;
  close(): void;
}

/** What `Deno.serve` returns, as far as weft cares. */
export interface DenoHttpServer {
  shutdown(): Promise<void>;
}

export interface DenoApi {
  listen(options: { hostname: string; port: number; transport: "tcp" }): DenoTcpListener;
  connect(options: { hostname: string; port: number; transport: "tcp" }): Promise<DenoTcpConn>;
  listenTls(options: { hostname: string; port: number; cert: string; key: string; transport: "tcp" }): DenoTcpListener;
  connectTls(options: { hostname: string; port: number; caCerts?: string[] }): Promise<DenoTcpConn>;
  serve(
    options: {
      hostname: string;
      port: number;
      cert?: string;
      key?: string;
      onListen(address: DenoNetAddr): void;
      onError(error: unknown): Response | Promise<Response>;
    },
    // deno-lint-ignore no-explicit-any
    handler: (request: Request, info: any) => Response | Promise<Response>,
  ): DenoHttpServer;
}

/** The running Deno, or a clear error for whoever imported a Deno adapter elsewhere. */
export function denoApi(): DenoApi {
  const deno = (globalThis as unknown as { Deno?: DenoApi }).Deno;
  if (deno === undefined) {
    throw new Error("this weft adapter needs Deno: on Node use @weft/rpc/node, on Bun @weft/rpc/bun");
  }
  return deno;
}
