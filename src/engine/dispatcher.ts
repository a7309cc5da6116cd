/**
 * Every frame that arrives goes somewhere from here: a reply to its call (calling.ts), a
 * request or request-stream frame to the serving side (serving.ts), weft's bits and control
 * frames to the handshake, a compressed frame to the inflater, a push to the mux's push
 * handler. Ordinary call frames take the short path (dispatch, route); the rest leaves it
 * (special). A frame this end cannot read fails its own exchange, and nothing else.
 */
import { type ErrorCode, RpcError } from "../common/errors.ts";
import { WeftFlags } from "../wire/control.ts";
import { crc32 } from "../wire/crc32.ts";
import { decodeExtensions, type ExtensionError, type Extensions } from "../wire/extensions.ts";
import { Flags, STREAM_BITS } from "../wire/flags.ts";
import { isOddId, type RequestId } from "../wire/frame.ts";
import type { Calling } from "./calling.ts";
import type { Connection } from "./api.ts";
import { Handshake, WEFT_BITS } from "./handshake.ts";
import { Inflater } from "./inflater.ts";
import { CLOSED, type Link } from "./link.ts";
import type { Mux } from "./mux.ts";
import type { Sender } from "./sender.ts";
import type { Serving } from "./serving.ts";

/** Frames that leave the hot path: resets, codec, push, and weft's two bits. */
export const SPECIAL_BITS = Flags.StreamRst | Flags.Codec | Flags.Push | WeftFlags.Hello | WeftFlags.Control;

export interface DispatchParts {
  readonly sender: Sender;
  readonly calling: Calling;
  readonly serving: Serving;
  readonly handshake: Handshake;
}

export class Dispatcher {
  readonly #link: Link;
  readonly #mux: Mux;
  readonly #connection: Connection;
  readonly #maxMetadataSize: number;
  /** Clients number their requests odd, servers even: a frame's id parity says whose call it is. */
  readonly #oddIdsAreOurs: boolean;
  readonly #sender: Sender;
  readonly #calling: Calling;
  readonly #serving: Serving;
  readonly #handshake: Handshake;
  /** Compressed frames wait here to be inflated, and come back in order (the read loop waits on its `idle`). */
  readonly inflater: Inflater;

  constructor(link: Link, parts: DispatchParts, mux: Mux, connection: Connection, maxMetadataSize: number) {
    this.#link = link;
    this.#mux = mux;
    this.#connection = connection;
    this.#maxMetadataSize = maxMetadataSize;
    this.#oddIdsAreOurs = link.role === "client";
    this.#sender = parts.sender;
    this.#calling = parts.calling;
    this.#serving = parts.serving;
    this.#handshake = parts.handshake;
    this.inflater = new Inflater({
      dispatch: (id, flags, cmd, payload) => this.dispatch(id, flags, cmd, payload),
      inflated: (id, flags, cmd, payload, ext) => {
        if ((flags & SPECIAL_BITS) !== 0) this.special(id, flags, cmd, payload);
        else this.route(id, flags, cmd, payload, ext);
      },
      failed: (id, flags, error) => this.failExchange(id, flags, error),
      closed: () => link.state === CLOSED, // a method: a getter would put the object in V8's dictionary mode
    });
  }

  /** True for the id of a call this end started (a reply's, or a WINDOW_UPDATE's for our stream). */
  ours(id: RequestId): boolean {
    return isOddId(id) === this.#oddIdsAreOurs;
  }

  /** The decoder's frame handler: every frame that arrives. */
  readonly dispatch = (id: RequestId, flags: number, cmd: number, payload: Uint8Array): void => {
    if (this.#link.state === CLOSED) return;
    if (this.inflater.waiting !== null) return this.inflater.wait(id, flags, cmd, payload);
    if (this.#handshake.held !== null && (flags & WEFT_BITS) !== WeftFlags.Control) {
      return this.#handshake.hold(id, flags, cmd, payload);
    }
    if ((flags & SPECIAL_BITS) !== 0) return this.special(id, flags, cmd, payload);
    this.route(id, flags, cmd, payload, undefined);
  };

  /** Hands a call's frame to its call (a reply) or to the serving side (from the peer). */
  route(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    if ((flags & STREAM_BITS) !== 0) this.#link.streamFramesRead++;
    if (isOddId(id) === this.#oddIdsAreOurs) {
      // A reply before any HELLO: the server speaks plain qrpc (a weft server greets first).
      if (this.#link.helloBit !== 0) this.#handshake.peerIsPlain();
      return this.#calling.receive(id, flags, cmd, payload, ext);
    }
    this.#serving.receive(id, flags, cmd, payload, ext);
  }

  /** Resets, frames under a codec, pushes, weft's bits: off the hot path. */
  special(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    const weftBits = flags & WEFT_BITS;
    if (weftBits !== 0) {
      const link = this.#link;
      // A pure qrpc end ignores both bits, as qrpc does. So does a server whose client has
      // not shown weft: until then only the hello bit means anything (PROTOCOL.md §13), and
      // 0x80 on a plain client's request is an unused bit, not a control frame.
      if (!link.weft || (link.role === "server" && !link.weftPeer && (weftBits & WeftFlags.Hello) === 0)) {
        return this.dispatch(id, flags & ~WEFT_BITS, cmd, payload);
      }
      if (weftBits === WeftFlags.Control) return this.#handshake.receiveControl(id, cmd, payload);
      if (link.role === "server" && link.version === 0) {
        // The client's hello; with Control too, a call whose block follows in EXT.
        this.#handshake.greet();
        if (Handshake.isGreetingAlone(id, weftBits)) return;
        if (weftBits === WEFT_BITS) return this.#handshake.holdForBlock(id, flags, cmd, payload);
        return this.dispatch(id, flags & ~WEFT_BITS, cmd, payload);
      }
      return this.#receiveExtended(id, flags & ~WEFT_BITS, cmd, payload);
    }
    if ((flags & Flags.StreamRst) !== 0 && (flags & Flags.Push) === 0) {
      return this.ours(id) ? this.#calling.reset(id, cmd, payload) : this.#serving.peerReset(id, cmd);
    }
    if ((flags & Flags.Codec) !== 0) {
      const format = this.#sender.compression;
      if (format !== null) return this.inflater.inflate(id, flags & ~Flags.Codec, cmd, payload, undefined, format, this.#link.maxFrameSize - 12);
      return this.#unknownCodec(id, flags, cmd);
    }
    this.#receivePush(flags, cmd, payload);
  }

  /** A call's frame with an extension block (0x40 once the handshake is done). */
  #receiveExtended(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    let ext: Extensions;
    let body: Uint8Array;
    try {
      ({ ext, body } = decodeExtensions(payload, this.#maxMetadataSize));
    } catch (error) {
      return this.#unreadableExtensions(id, flags, cmd, error as ExtensionError);
    }
    if (ext.checksum !== undefined) {
      const actual = crc32(body);
      if (actual !== ext.checksum) {
        const message = `cmd ${cmd}: checksum mismatch (CRC-32 ${hex32(actual)}, the sender said ${hex32(ext.checksum)})`;
        return this.failExchange(id, flags, new RpcError("data_loss", message));
      }
    }
    const format = this.#sender.compression;
    if ((flags & Flags.Codec) !== 0 && format !== null) {
      return this.inflater.inflate(id, flags & ~Flags.Codec, cmd, body, ext, format, this.#link.maxFrameSize - 12);
    }
    if ((flags & SPECIAL_BITS) !== 0) return this.special(id, flags, cmd, body);
    this.route(id, flags, cmd, body, ext);
  }

  /** A block over the limit or malformed fails its exchange, and nothing else. */
  #unreadableExtensions(id: RequestId, flags: number, cmd: number, problem: ExtensionError): void {
    const code: ErrorCode = problem.tooLarge ? "resource_exhausted" : "internal";
    const what = problem.tooLarge ? "" : "malformed extension block: ";
    this.failExchange(id, flags, new RpcError(code, `cmd ${cmd}: ${what}${problem.message}`));
  }

  /**
   * A payload under a codec this connection never agreed to cannot be read. qrpc closes
   * the connection here; weft fails only the exchange the frame belongs to.
   */
  #unknownCodec(id: RequestId, flags: number, cmd: number): void {
    const message = `frame for cmd ${cmd} has the Codec flag (0x20), but no codec was negotiated on this connection`;
    this.failExchange(id, flags, new RpcError("unimplemented", message));
  }

  /** A frame this end cannot read fails the exchange it belongs to, and nothing else. */
  failExchange(id: RequestId, flags: number, error: RpcError): void {
    this.#link.report(error);
    if ((flags & Flags.Push) !== 0) return;
    if (this.ours(id)) return this.#calling.fail(id, error);
    this.#serving.fail(id, flags, error);
  }

  #receivePush(flags: number, cmd: number, payload: Uint8Array): void {
    const handler = this.#mux.pushHandler;
    if (handler === null) return;
    try {
      handler({ cmd, flags, payload, connection: this.#connection });
    } catch (error) {
      this.#link.report(error);
    }
  }
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, "0");
}
