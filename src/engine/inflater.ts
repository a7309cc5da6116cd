/**
 * Compressed payloads on their way in. Decompression is asynchronous, so a compressed
 * frame is decompressed off the read loop while the frames after it wait behind it, in
 * order; the read loop waits (`idle`) before it decodes more. A corrupt or oversized
 * payload fails its own exchange alone.
 */
import { type ErrorCode, RpcError } from "../common/errors.ts";
import { type CompressionFormat, decompress } from "../wire/compression.ts";
import type { Extensions } from "../wire/extensions.ts";
import type { RequestId } from "../wire/frame.ts";

/** A frame as the decoder hands it over. */
export type RawFrame = [id: RequestId, flags: number, cmd: number, payload: Uint8Array];

export interface InflaterHost {
  /** A frame that waited behind a decompression: dispatched as if it had just arrived. */
  dispatch(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void;
  /** The decompressed frame itself, to be routed with what its block said. */
  inflated(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void;
  /** The payload could not be decompressed: its exchange fails. */
  failed(id: RequestId, flags: number, error: RpcError): void;
  /** The connection closed while decompressing: drop the result. */
  closed(): boolean;
}

export class Inflater {
  readonly #host: InflaterHost;
  /** Frames that arrived behind a payload being decompressed, in order; null when none (read per frame). */
  waiting: RawFrame[] | null = null;
  /** Settles once nothing is being decompressed: the read loop waits on it. */
  idle: Promise<void> | null = null;
  #settle: (() => void) | null = null;

  constructor(host: InflaterHost) {
    this.#host = host;
  }

  /** A frame that arrived during a decompression: it waits its turn behind it. */
  wait(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    this.waiting!.push([id, flags, cmd, payload]);
  }

  /** Decompresses `payload` (at most `maxBytes` out), then hands on the frame and what waited. */
  inflate(
    id: RequestId,
    flags: number,
    cmd: number,
    payload: Uint8Array,
    ext: Extensions | undefined,
    format: CompressionFormat,
    maxBytes: number,
  ): void {
    this.waiting = [];
    this.idle ??= new Promise((resolve) => (this.#settle = resolve));
    decompress(payload, format, maxBytes)
      .then(
        (plain) => {
          if (!this.#host.closed()) this.#host.inflated(id, flags, cmd, plain, ext);
        },
        (error) => {
          const code: ErrorCode = error instanceof RpcError ? error.code : "data_loss";
          this.#host.failed(id, flags, new RpcError(code, `cmd ${cmd}: ${(error as Error)?.message ?? error}`));
        },
      )
      .then(() => this.#drain());
  }

  /** Dispatches what waited behind a decompression, until another one starts. */
  #drain(): void {
    const waiting = this.waiting ?? [];
    this.waiting = null;
    for (let i = 0; i < waiting.length; i++) {
      const [id, flags, cmd, payload] = waiting[i];
      this.#host.dispatch(id, flags, cmd, payload);
      if (this.waiting !== null) {
        (this.waiting as RawFrame[]).push(...waiting.slice(i + 1));
        return;
      }
    }
    this.idle = null;
    this.#settle?.();
    this.#settle = null;
  }
}
