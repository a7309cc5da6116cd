/**
 * Handlers by cmd: qrpc's ServeMux (the shape is `Mux` in api.ts). Only the low 16 bits of a
 * cmd route; the high byte is the application's.
 */
import type { Handler, Mux as MuxShape, PushHandler } from "./api.ts";

export type { Handler, HandlerResult, PushHandler, PushMessage, Reply } from "./api.ts";

/** Only the low 16 bits of cmd route a request; the high byte is the application's. */
export const ROUTING_MASK = 0xffff;

class HandlerTable implements MuxShape {
  #handlers = new Map<number, Handler>();
  #pushHandler: PushHandler | null = null;

  handle(cmd: number, handler: Handler): this {
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > ROUTING_MASK) {
      throw new RangeError(`cmd must be an integer in 0..65535 (only the low 16 bits route), got ${cmd}`);
    }
    if (typeof handler !== "function") throw new TypeError(`handler for cmd ${cmd} must be a function`);
    this.#handlers.set(cmd, handler);
    return this;
  }

  lookup(cmd: number): Handler | undefined {
    return this.#handlers.get(cmd & ROUTING_MASK);
  }

  get cmds(): number[] {
    return [...this.#handlers.keys()].sort((a, b) => a - b);
  }

  onPush(handler: PushHandler | null): this {
    this.#pushHandler = handler;
    return this;
  }

  get pushHandler(): PushHandler | null {
    return this.#pushHandler;
  }
}

/**
 * A new, empty mux. A server's connections share the server's; a client connection has its
 * own, for the calls its server makes to it.
 */
export const Mux: new () => MuxShape = HandlerTable;
export type Mux = MuxShape;
