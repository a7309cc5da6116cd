/**
 * The calling side of a connection: requests and streaming calls this end starts, and its
 * pushes. Numbers them (clients odd, servers even, as qrpc), checks their arguments before
 * anything is sent, keeps the table of calls waiting on a reply, and gives each call the
 * CallHost it talks to the connection through.
 *
 * Before the handshake a client cannot know what the server will make of a call's
 * extension block: such a call leaves marked, and its block follows in an EXT frame once
 * the server greets (a plain qrpc server ignores both bits and never greets; §13).
 */
import { CallTable } from "./call_table.ts";
import { RpcError } from "../common/errors.ts";
import { durationProblem } from "../common/timers.ts";
import { Op, WeftFlags } from "../wire/control.ts";
import { checkMetadata, encodeExtensions, type Extensions, hasMetadata } from "../wire/extensions.ts";
import { Flags } from "../wire/flags.ts";
import { MAX_CMD, type RequestId } from "../wire/frame.ts";
import type { Backpressure } from "./backpressure.ts";
import { Call, type CallHost, type CallOptions, PendingCall } from "./call.ts";
import { CLOSED, CLOSING, type Link, OPEN } from "./link.ts";
import type { Connection } from "./api.ts";
import { type EndHook, guarded, type Hooks } from "./hooks.ts";
import type { Sender } from "./sender.ts";

const EMPTY = new Uint8Array(0);

export interface CallingOptions {
  /** Default for `CallOptions.nonBlocking`. */
  nonBlocking: boolean;
  /** Client: first-flight calls wait on the server for SETTINGS (a codec, connection metadata). */
  deferFirstFlight: boolean;
  /** Numbers pushed frames (a server shares one counter across its connections). */
  nextPushId: () => number;
  /** A call finished: the connection may be drained (close() waits for that). */
  onSettled: () => void;
  /** Instrumentation: told when each call starts and ends. */
  hooks: Hooks | undefined;
  /** The connection, as hooks receive it. */
  connection: Connection;
}

/** A call refused before anything of it was sent. */
const NOT_SENT = Object.freeze({ unprocessed: true });

export class Calling {
  readonly #link: Link;
  readonly #sender: Sender;
  readonly #backpressure: Backpressure;
  readonly #options: CallingOptions;
  // Read per call: kept here rather than behind #options.
  readonly #nonBlocking: boolean;
  readonly #onSettled: () => void;
  readonly #callStarted: Hooks["callStarted"];
  readonly #calls = new CallTable<PendingCall>();
  #nextId: number;
  /** Client: blocks of calls sent before the handshake, sent as EXT once the server greets. */
  #deferredExt: Map<RequestId, Uint8Array> | null = null;
  readonly #host: CallHost;

  constructor(link: Link, sender: Sender, backpressure: Backpressure, options: CallingOptions) {
    this.#link = link;
    this.#sender = sender;
    this.#backpressure = backpressure;
    this.#options = options;
    this.#nonBlocking = options.nonBlocking;
    this.#onSettled = options.onSettled;
    this.#callStarted = options.hooks?.callStarted?.bind(options.hooks);
    // qrpc numbers client requests 3, 5, 7... and server requests 2, 4, 6...
    this.#nextId = link.role === "client" ? 3 : 2;
    this.#host = this.#makeHost();
  }

  /** Calls waiting on a reply. */
  get size(): number {
    return this.#calls.size;
  }

  /** Calls in flight with a stream either way (counted when asked: for instrumentation). */
  streaming(): number {
    let count = 0;
    if (this.#calls.size > 0) for (const call of this.#calls.values()) if (call.streaming) count++;
    return count;
  }

  /** A request with one payload; see Connection.open. */
  open(cmd: number, payload: Uint8Array, options?: CallOptions): PendingCall {
    const id = this.#newCallId(cmd, options, payload);
    const end = this.#callStarted === undefined ? undefined : this.#started(cmd, options);
    const call = new PendingCall(this.#host, id, cmd, options);
    if (end !== undefined) call.onEnd = end;
    this.#calls.set(id, call);
    const flags = this.#host.baseFlags() | ((options?.nonBlocking ?? this.#nonBlocking) ? Flags.NonBlock : 0);
    const ext = options !== undefined && (options.metadata !== undefined || options.timeout !== undefined)
      ? { metadata: options.metadata, timeout: options.timeout }
      : undefined;
    // Before the handshake (helloBit) the call may have to wait on the server: #writeCall decides.
    if (ext !== undefined || this.#link.helloBit !== 0) this.#writeCall(id, flags, cmd, payload, ext);
    else this.#sender.send(id, flags, cmd, payload, undefined);
    return call;
  }

  /** A streaming call; see Connection.call. */
  call(cmd: number, options?: CallOptions): Call {
    const id = this.#newCallId(cmd, options);
    if (options?.nonBlocking === undefined && this.#nonBlocking) options = { ...options, nonBlocking: true };
    const end = this.#callStarted === undefined ? undefined : this.#started(cmd, options);
    const call = new Call(this.#host, id, cmd, options);
    if (end !== undefined) call.onEnd = end;
    this.#calls.set(id, call);
    // The reply promise may reject with nobody awaiting it (a caller that only sends).
    call.response.catch(() => {});
    return call;
  }

  /** Tells the hook a call starts, before anything exists of it (a hook that throws refuses the call). */
  #started(cmd: number, options: CallOptions | undefined): EndHook | undefined {
    const end = this.#callStarted!(this.#options.connection, cmd, options);
    return typeof end === "function" ? guarded(end, this.#link.report) : undefined;
  }

  /** A push: no reply, no state. */
  push(cmd: number, payload: Uint8Array): void {
    this.#checkCmd(cmd);
    this.#checkPayload(payload);
    if (this.#link.state === CLOSED) throw this.#link.closeError ?? new RpcError("unavailable", "connection is closed");
    this.#sender.send(this.#options.nextPushId(), Flags.Push | this.#link.helloBit, cmd, payload, undefined);
  }

  /** A frame of a call of ours: a reply. */
  receive(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    this.#calls.get(id)?.onFrame(flags, cmd, payload, ext);
  }

  /** The peer reset a call of ours. */
  reset(id: RequestId, reason: number, payload: Uint8Array): void {
    this.#calls.get(id)?.onReset(reason, payload);
  }

  /** A frame of call `id` could not be read: the call fails, and the peer hears why. */
  fail(id: RequestId, error: RpcError): void {
    const call = this.#calls.get(id);
    if (call === undefined) return;
    this.#sender.reset(id, error.code, error.message);
    this.#calls.delete(id);
    call.onClose(error);
    this.#onSettled();
  }

  /** WINDOW_UPDATE for a request stream of ours. */
  grant(id: RequestId, bytes: number): void {
    this.#calls.get(id)?.grant(bytes);
  }

  /** Client, on HELLO: the blocks of calls sent before the handshake follow them now. */
  sendDeferred(): void {
    const deferred = this.#deferredExt;
    this.#deferredExt = null;
    if (deferred !== null) for (const [id, block] of deferred) this.#sender.control(Op.Ext, block, id);
  }

  /** Client: the server speaks plain qrpc; blocks for it are dropped. */
  dropDeferred(): void {
    this.#deferredExt = null;
  }

  /** The connection closed: every call fails with `error`. */
  closeAll(error: RpcError): void {
    const calls = this.#calls.values();
    this.#calls.clear();
    for (const call of calls) call.onClose(error);
  }

  /**
   * Writes a request: with its block to a weft peer; before the handshake, a call with
   * metadata is marked (0x40 and 0x80) and its block follows in EXT once the server
   * greets (a plain qrpc server ignores both bits and never greets).
   */
  #writeCall(id: RequestId, flags: number, cmd: number, payload: Uint8Array, ext: Extensions | undefined): void {
    if (this.#link.extended) return this.#sender.send(id, flags, cmd, payload, ext);
    // Before the handshake the server knows neither the call's metadata nor what SETTINGS
    // will say: it holds such a call until its block follows SETTINGS (§13).
    if (this.#link.helloBit !== 0 && (this.#options.deferFirstFlight || hasMetadata(ext?.metadata))) {
      (this.#deferredExt ??= new Map()).set(id, encodeExtensions({ metadata: ext?.metadata, timeout: ext?.timeout }));
      flags |= WeftFlags.Control;
    }
    this.#sender.send(id, flags, cmd, payload, undefined);
  }

  /** Checks a new call (and its one payload, if given) and numbers it; throws when it cannot start. */
  #newCallId(cmd: number, options: CallOptions | undefined, payload?: Uint8Array): RequestId {
    this.#checkCmd(cmd);
    if (payload !== undefined) this.#checkPayload(payload);
    if (options?.metadata !== undefined) checkMetadata(options.metadata);
    if (options?.timeout !== undefined) {
      const problem = durationProblem("timeout", options.timeout);
      if (problem !== null) throw new RpcError("invalid_argument", problem);
    }
    const refused = this.#refuseCall(cmd, options);
    if (refused !== null) throw refused;
    const id = this.#nextId;
    this.#nextId += 2;
    return id;
  }

  /** Why a new call cannot start now, or null when it can. */
  #refuseCall(cmd: number, options: CallOptions | undefined): RpcError | null {
    const link = this.#link;
    // Nothing was sent: each of these is `unprocessed`, so a layer above may send it elsewhere.
    if (link.peerGoingAway !== null && link.state === OPEN) {
      return new RpcError("unavailable", `the peer is going away (${link.peerGoingAway}): no new calls`, NOT_SENT);
    }
    if (link.state !== OPEN) {
      if (link.state === CLOSING) return new RpcError("unavailable", "connection is closing: no new calls", NOT_SENT);
      const closed = link.closeError;
      return closed === null
        ? new RpcError("unavailable", "connection is closed", NOT_SENT)
        : new RpcError(closed.code, closed.message, { cause: closed, details: closed.details, unprocessed: true });
    }
    if (options?.signal?.aborted) {
      return new RpcError("cancelled", `call to cmd ${cmd} was cancelled before it started`, {
        cause: options.signal.reason,
      });
    }
    return null;
  }

  #makeHost(): CallHost {
    // qrpc clients accept a server-initiated request only if it is NonBlock.
    const roleFlags = this.#link.role === "server" ? Flags.NonBlock : 0;
    const link = this.#link;
    const writer = link.writer;
    return {
      // A method, not a getter: an object literal with an accessor is kept in V8's slow dictionary mode.
      baseFlags: () => roleFlags | link.helloBit,
      write: (id, flags, cmd, payload, ext) => {
        if (link.state === CLOSED) return;
        if (ext === undefined) this.#sender.send(id, flags, cmd, payload, undefined);
        else this.#writeCall(id, flags, cmd, payload, ext);
      },
      writable: async () => {
        if (link.state === CLOSED) throw link.closeError;
        if (writer.backpressured) await writer.ready;
      },
      reset: (id, code) => {
        if (link.state !== CLOSED) writer.write(id, Flags.StreamRst, code, EMPTY);
      },
      forget: (id) => {
        this.#calls.delete(id);
        this.#onSettled();
      },
      checkPayload: (payload) => this.#checkPayload(payload),
      newStream: (id, flowControlled) => this.#backpressure.newStream(id, flowControlled),
      sendCredit: () => this.#backpressure.newSendCredit(),
    };
  }

  #checkCmd(cmd: number): void {
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > MAX_CMD) {
      throw new RpcError("invalid_argument", `cmd must be an integer in 0..${MAX_CMD}, got ${cmd}`);
    }
  }

  #checkPayload(payload: Uint8Array): void {
    if (!(payload instanceof Uint8Array)) {
      throw new RpcError("invalid_argument", `payload must be a Uint8Array, got ${typeof payload}`);
    }
    const max = this.#link.maxFrameSize;
    if (payload.length + 12 > max) {
      throw new RpcError("invalid_argument", `payload of ${payload.length} bytes exceeds the frame limit of ${max} bytes`);
    }
  }
}
