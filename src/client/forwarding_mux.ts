/**
 * The mux each of a channel's connections serves with: the channel's own handlers, and its
 * pushes handed on as if they came from the channel. So a typed subscription made on the
 * channel outlives the connection it started on: events keep arriving after a reconnect
 * without the application doing anything.
 */
import type { Connection, Mux, PushHandler, PushMessage } from "../engine/api.ts";

export class ForwardingMux implements Mux {
  readonly #target: Mux;
  readonly #channel: Connection;

  constructor(target: Mux, channel: Connection) {
    this.#target = target;
    this.#channel = channel;
  }

  handle(cmd: number, handler: Parameters<Mux["handle"]>[1]): this {
    this.#target.handle(cmd, handler);
    return this;
  }

  lookup(cmd: number): ReturnType<Mux["lookup"]> {
    return this.#target.lookup(cmd);
  }

  get cmds(): number[] {
    return this.#target.cmds;
  }

  onPush(handler: PushHandler | null): this {
    this.#target.onPush(handler);
    return this;
  }

  get pushHandler(): PushHandler | null {
    return this.#target.pushHandler === null ? null : this.#forward;
  }

  readonly #forward = (message: PushMessage): void => {
    this.#target.pushHandler?.({ cmd: message.cmd, flags: message.flags, payload: message.payload, connection: this.#channel });
  };
}
