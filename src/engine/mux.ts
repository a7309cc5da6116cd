import type { Connection } from "./connection.ts";
import type { IncomingRequest } from "./incoming_request.ts";

/** What a handler may return. */
export type HandlerResult =
  | Uint8Array // one reply frame, with the request's cmd
  | Reply // one reply frame or a reply stream, with a cmd of the handler's choosing
  | AsyncIterable<Uint8Array> // a reply stream (an async generator handler lands here)
  | ReadableStream<Uint8Array> // a reply stream
  | void; // an empty reply

/** A reply with an explicit cmd (qrpc handlers often answer cmd N with cmd N+1). */
export type Reply =
  | { cmd?: number; payload: Uint8Array }
  | { cmd?: number; stream: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> };

/** Serves one cmd. Runs inline (blocking) or concurrently (NonBlock, streams); see the README. */
export type Handler = (request: IncomingRequest) => HandlerResult | Promise<HandlerResult>;

/** A frame pushed by the peer: no reply is expected. */
export interface PushMessage {
  readonly cmd: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly connection: Connection;
}

export type PushHandler = (message: PushMessage) => void;

/** Only the low 16 bits of cmd route a request; the high byte is the application's. */
export const ROUTING_MASK = 0xffff;

/**
 * Handlers by cmd: qrpc's ServeMux. A server's connections share the server's mux; a
 * client connection has its own, for the calls its server makes to it.
 */
export class Mux {
  #handlers = new Map<number, Handler>();
  #pushHandler: PushHandler | null = null;

  /** Serves `cmd` (0..65535) with `handler`, replacing any earlier handler for it. */
  handle(cmd: number, handler: Handler): this {
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > ROUTING_MASK) {
      throw new RangeError(`cmd must be an integer in 0..65535 (only the low 16 bits route), got ${cmd}`);
    }
    if (typeof handler !== "function") throw new TypeError(`handler for cmd ${cmd} must be a function`);
    this.#handlers.set(cmd, handler);
    return this;
  }

  /** The handler that serves a frame's cmd, if any. */
  lookup(cmd: number): Handler | undefined {
    return this.#handlers.get(cmd & ROUTING_MASK);
  }

  /** The cmds served, in ascending order. */
  get cmds(): number[] {
    return [...this.#handlers.keys()].sort((a, b) => a - b);
  }

  /** Receives every frame the peer pushes. */
  onPush(handler: PushHandler | null): this {
    this.#pushHandler = handler;
    return this;
  }

  get pushHandler(): PushHandler | null {
    return this.#pushHandler;
  }
}
