/**
 * weft's handshake, on qrpc's bytes (docs/PROTOCOL.md §13). A weft client marks its frames
 * with the hello bit until it hears from its server; a weft server that sees the bit greets
 * with HELLO (versions, heartbeat, window, codecs, compression, checksum); the client
 * answers SETTINGS with what it takes. Neither waits for a round trip: the client's first
 * calls leave at once. A plain qrpc peer never greets, or never marks, and both ends stay
 * plain qrpc.
 *
 * A server with `authenticate` admits no request before the client's metadata (in SETTINGS)
 * passes: the client's frames wait here, in arrival order, and so do calls whose extension
 * block follows in an EXT frame. The control frames of a live connection (PING, GOAWAY,
 * ERROR, WINDOW_UPDATE) arrive here too.
 */
import { type ErrorCode, ErrorCodes, ProtocolError, RpcError } from "../common/errors.ts";
import { agentOf, localAgent } from "../common/agent.ts";
import type { CompressionFormat } from "../wire/compression.ts";
import {
  decodeControl,
  encodeControl,
  type ErrorMessage,
  type GoAwayMessage,
  type HelloMessage,
  Op,
  PROTOCOL_VERSIONS,
  type SettingsMessage,
  WeftFlags,
} from "../wire/control.ts";
import { DEFAULT_MAX_METADATA_SIZE } from "../wire/extensions.ts";
import { Flags } from "../wire/flags.ts";
import { readUint32, type RequestId } from "../wire/frame.ts";
import type { Backpressure } from "./backpressure.ts";
import type { Calling } from "./calling.ts";
import type { Connection } from "./api.ts";
import type { RawFrame } from "./inflater.ts";
import { CLOSED, type Link } from "./link.ts";
import { agreedInterval, type Liveness } from "./liveness.ts";
import type { ConnectionOptions } from "./options.ts";
import type { Sender } from "./sender.ts";
import { COMPRESSION_FORMATS, DEFAULT_CODECS, NO_METADATA, refusedSettings, stringRecord } from "./settings.ts";

/** weft's two bits: 0x80 alone is a control frame, 0x40 a hello or a block, both a deferred block. */
export const WEFT_BITS = WeftFlags.Hello | WeftFlags.Control;

/** Frames a server holds for a connection that has not authenticated yet. */
const HOLD_LIMIT = 1024;
/** Bytes of frames held, at least: a first flight as large as one frame always fits. */
const HOLD_BYTES = 1024 * 1024;
/** Room in a HELLO or SETTINGS for what is not metadata (versions, codecs, limits, agent). */
const CONTROL_SLACK = 4096;
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** What the handshake needs of the connection around it. */
export interface HandshakeHost {
  /** The connection, as the application's hooks (authenticate, onGoAway) receive it. */
  readonly connection: Connection;
  /** A frame let go after the handshake held it: dispatched as if it had just arrived. */
  dispatch(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void;
  /** Refuses a request (a reset with `code`). */
  refuse(id: RequestId, code: ErrorCode): void;
  /** WINDOW_UPDATE for exchange `id`. */
  grant(id: RequestId, bytes: number): void;
  /** The connection cannot go on: report `cause`, abort the transport, fail everything with `error`. */
  fail(error: RpcError, cause: Error): void;
  /** Tells a weft peer why it is refused (ERROR), then closes once that frame is out. */
  refuseConnection(code: ErrorCode, message: string): void;
}

export class Handshake {
  readonly #link: Link;
  readonly #sender: Sender;
  readonly #backpressure: Backpressure;
  readonly #liveness: Liveness;
  readonly #calling: Calling;
  readonly #host: HandshakeHost;
  readonly #heartbeat: number;
  readonly #metadata: Record<string, string>;
  readonly #maxMetadataSize: number;
  readonly #codecsAccepted: readonly string[];
  readonly #compressionOption: CompressionFormat | false | undefined;
  readonly #checksumOption: boolean | undefined;
  readonly #onGoAway: ConnectionOptions["onGoAway"];
  readonly #authenticate: ConnectionOptions["authenticate"];
  /** This end's codec; a server takes its client's from SETTINGS. */
  codec: string;
  /** The metadata the peer sent in the handshake (a server reads its client's here). */
  peerMetadata: Readonly<Record<string, string>> = NO_METADATA;
  /** The peer's software and runtime from its HELLO or SETTINGS; null until then, or if it sent none. */
  peerAgent: string | null = null;
  readonly #agent: string | undefined; // ours, sent in HELLO or SETTINGS (undefined: none)
  /** Frames held until the connection is admitted (null when nothing is held): read on every frame. */
  held: RawFrame[] | null = null;
  /** Waiting for `authenticate` to accept the client. */
  #authPending = false;
  /** Held calls whose block is still to come in an EXT frame. */
  #awaitingExt: Set<RequestId> | null = null;
  #heldBytes = 0;
  readonly #holdBytes: number;
  /** Refused (ERROR sent, closing): whatever the client still sends is dropped. */
  #refused = false;
  readonly #handshakeTimeout: number; // server: the handshake's (and admission's) time limit
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(
    link: Link,
    parts: { sender: Sender; backpressure: Backpressure; liveness: Liveness; calling: Calling },
    host: HandshakeHost,
    options: ConnectionOptions,
  ) {
    this.#link = link;
    this.#sender = parts.sender;
    this.#backpressure = parts.backpressure;
    this.#liveness = parts.liveness;
    this.#calling = parts.calling;
    this.#host = host;
    this.#heartbeat = options.heartbeatInterval ?? 10_000;
    this.#metadata = options.metadata ?? NO_METADATA;
    this.#agent = options.agent === false ? undefined : (options.agent ?? localAgent());
    this.#maxMetadataSize = options.maxMetadataSize ?? DEFAULT_MAX_METADATA_SIZE;
    this.codec = options.codec ?? "raw";
    this.#codecsAccepted = options.codecs ?? DEFAULT_CODECS;
    this.#compressionOption = options.compression;
    this.#checksumOption = options.checksum;
    this.#onGoAway = options.onGoAway;
    this.#authenticate = link.role === "server" ? options.authenticate : undefined;
    this.#holdBytes = Math.max(HOLD_BYTES, link.maxFrameSize);
    this.#handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    if (!(this.#handshakeTimeout > 0)) throw new TypeError(`handshakeTimeout must be a positive number of ms, got ${this.#handshakeTimeout}`);
    if (this.#authenticate !== undefined) {
      this.#authPending = true;
      this.held = [];
      // Admission has a deadline from the first byte: a client that never authenticates is let go.
      this.#startHandshakeTimer();
    }
    link.helloBit = link.weft && link.role === "client" ? WeftFlags.Hello : 0;
    // The greeting alone: 0xC0 on id 0, which no call uses (PROTOCOL.md §13).
    if (options.greetEagerly === true && link.helloBit !== 0) link.writer.write(0, WEFT_BITS, Op.Hello, new Uint8Array(0));
  }

  /** Server: a client's greeting with no call in it (0xC0 on id 0, `greetEagerly`). */
  static isGreetingAlone(id: RequestId, weftBits: number): boolean {
    return id === 0 && weftBits === WEFT_BITS;
  }

  /** Server: a call whose block follows in an EXT frame (0x40 and 0x80) waits for it here. */
  holdForBlock(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    this.held ??= [];
    this.hold(id, flags, cmd, payload);
  }

  /** Server: a client showed it speaks weft; offer it the extensions, once. */
  greet(): void {
    const link = this.#link;
    if (!link.weft || link.weftPeer || link.state === CLOSED) return;
    link.weftPeer = true;
    // HELLO goes out before anything else, so the client reads our blocks from here on.
    link.extended = true;
    if (this.#handshakeTimer === undefined) this.#startHandshakeTimer();
    const hello: HelloMessage = {
      versions: [...PROTOCOL_VERSIONS],
      heartbeat: this.#heartbeat,
      maxFrameSize: link.maxFrameSize,
      window: this.#backpressure.window,
      maxMetadataSize: this.#maxMetadataSize,
      codecs: [...this.#codecsAccepted],
      compression: this.#compressionOption === false ? [] : [...COMPRESSION_FORMATS],
      checksum: this.#checksumOption === false ? [] : ["crc32"],
      agent: this.#agent,
    };
    this.#sender.control(Op.Hello, encodeControl(hello));
  }

  /** Client: a reply came before any HELLO, so the server speaks plain qrpc. */
  peerIsPlain(): void {
    this.#link.helloBit = 0;
    this.#calling.dropDeferred();
  }

  /**
   * Server with `authenticate`: nothing runs before the client's metadata is accepted.
   * A client that shows weft gets HELLO and its frames wait (no round trip on its side:
   * it sent them already); one that does not is plain qrpc and cannot authenticate.
   */
  hold(id: RequestId, flags: number, cmd: number, payload: Uint8Array): void {
    if (this.#refused) return;
    const weftBits = flags & WEFT_BITS;
    if (weftBits !== 0 && this.#link.version === 0) {
      this.greet(); // the client's hello
      if (Handshake.isGreetingAlone(id, weftBits)) return;
      if (weftBits === WEFT_BITS) (this.#awaitingExt ??= new Set()).add(id);
      flags &= ~WEFT_BITS; // greeted: what is left is an ordinary frame (until its EXT comes)
    }
    if (!this.#link.weftPeer) {
      if ((flags & (Flags.Push | Flags.StreamRst)) === 0) this.#host.refuse(id, "unauthenticated");
      return;
    }
    const held = this.held!;
    this.#heldBytes += payload.length + 16;
    if (held.length >= HOLD_LIMIT || this.#heldBytes > this.#holdBytes) {
      const what = held.length >= HOLD_LIMIT ? `${HOLD_LIMIT} frames` : `${this.#holdBytes} bytes`;
      return this.#host.refuseConnection("resource_exhausted", `more than ${what} held before the handshake completed`);
    }
    // A view into the read buffer would not outlive the chunk: the frame is kept as a copy.
    held.push([id, flags, cmd, payload.slice()]);
  }

  /** The connection is refused: nothing more from the client is read into the application. */
  refuse(): void {
    this.#refused = true;
    this.held = [];
    this.#awaitingExt = null;
    this.stop();
  }


  #startHandshakeTimer(): void {
    if (this.#link.role !== "server" || this.#link.state === CLOSED) return;
    this.#handshakeTimer = setTimeout(() => this.#handshakeTimedOut(), this.#handshakeTimeout);
  }

  /** No more time limits: the handshake is over (admitted or refused), or the connection closed. */
  stop(): void {
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  /**
   * The client did not complete the handshake in time. With `authenticate` it is refused.
   * Otherwise it set the hello bit but never answered HELLO: a plain qrpc client whose
   * unused bits happened to be set. It is served as one: what it sent is released, as if
   * the bits were clear, and nothing weft-only goes to it again.
   */
  #handshakeTimedOut(): void {
    this.#handshakeTimer = undefined;
    const link = this.#link;
    if (link.state === CLOSED || this.#refused) return;
    const message = `no weft handshake within ${this.#handshakeTimeout} ms`;
    if (this.#authenticate !== undefined) {
      if (link.weftPeer) return this.#host.refuseConnection("unauthenticated", `not authenticated: ${message}`);
      const error = new RpcError("unauthenticated", `connection closed: ${message}`);
      return this.#host.fail(error, error);
    }
    if (link.version !== 0) return;
    link.weftPeer = false;
    link.extended = false;
    this.#awaitingExt = null;
    this.#maybeRelease();
  }

  /** A control frame (0x80 alone): the handshake's, or a live connection's. */
  receiveControl(id: RequestId, op: number, payload: Uint8Array): void {
    if (this.#refused) return;
    try {
      if (op !== Op.Ping && op !== Op.Pong && payload.length > this.#maxMetadataSize + CONTROL_SLACK) {
        const limit = this.#maxMetadataSize + CONTROL_SLACK;
        const what = `control frame (opcode ${op}) of ${payload.length} bytes, over the limit of ${limit}`;
        if (op === Op.Settings && this.#link.role === "server" && this.#link.weftPeer && this.#link.version === 0) {
          return this.#host.refuseConnection("resource_exhausted", `${what} (connection metadata is limited to maxMetadataSize)`);
        }
        throw new RangeError(what);
      }
      switch (op) {
        case Op.WindowUpdate:
          return this.#receiveWindowUpdate(id, payload);
        case Op.Ext:
          return this.#receiveDeferredExtensions(id, payload);
        case Op.Hello:
          return this.#receiveHello(decodeControl<HelloMessage>(payload));
        case Op.Settings:
          return this.#receiveSettings(decodeControl<SettingsMessage>(payload));
        case Op.Ping:
          // Only once the handshake is done (both ends heartbeat from then on); a PING's
          // payload comes back, so it is held to a heartbeat's size.
          if (this.#link.version === 0) return;
          if (payload.length > 64) throw new RangeError(`PING of ${payload.length} bytes (at most 64)`);
          return this.#sender.control(Op.Pong, payload);
        case Op.Pong:
          return this.#link.onPong?.(payload); // its arrival already counted as life
        case Op.GoAway:
          return this.#receiveGoAway(decodeControl<GoAwayMessage>(payload));
        case Op.Error:
          return this.#receiveError(decodeControl<ErrorMessage>(payload));
        default:
          return; // an opcode from a newer weft: ignored, as promised in PROTOCOL.md
      }
    } catch (error) {
      const problem = new ProtocolError(`malformed control frame (opcode ${op}): ${(error as Error).message}`);
      this.#host.fail(new RpcError("unavailable", `connection closed: ${problem.message}`, { cause: problem }), problem);
    }
  }

  /** Client: the server speaks weft. Take a version and the heartbeat, and say so. */
  #receiveHello(hello: HelloMessage): void {
    const link = this.#link;
    if (link.role !== "client" || !link.weft || link.version !== 0) return;
    link.helloBit = 0;
    const version = Math.max(0, ...hello.versions.filter((v) => PROTOCOL_VERSIONS.includes(v)));
    if (version === 0) return; // no common version: stay plain qrpc
    if (Array.isArray(hello.codecs) && !hello.codecs.includes(this.codec)) {
      const error = new RpcError(
        "unimplemented",
        `the server does not read codec "${this.codec}" (it reads: ${hello.codecs.join(", ")})`,
      );
      return this.#host.fail(error, error);
    }
    link.weftPeer = true;
    link.extended = true;
    link.version = version;
    this.peerAgent = agentOf(hello.agent);
    this.#backpressure.useWindows(Number(hello.window) || 0);
    const wanted = this.#compressionOption;
    const compression = wanted && Array.isArray(hello.compression) && hello.compression.includes(wanted) ? wanted : null;
    const checksum = this.#checksumOption === true && Array.isArray(hello.checksum) && hello.checksum.includes("crc32");
    const heartbeat = agreedInterval(this.#heartbeat, Number(hello.heartbeat) || 0);
    const settings: SettingsMessage = {
      version,
      heartbeat,
      maxFrameSize: link.maxFrameSize,
      metadata: this.#metadata,
      window: this.#backpressure.window,
      maxMetadataSize: this.#maxMetadataSize,
      codec: this.codec,
      compression,
      checksum: checksum ? "crc32" : null,
      agent: this.#agent,
    };
    this.#sender.control(Op.Settings, encodeControl(settings));
    // From SETTINGS on, both ends compress and checksum as agreed.
    this.#sender.useTransforms(compression, checksum);
    // Calls sent before the handshake wait on the server for their blocks: here they are.
    this.#calling.sendDeferred();
    this.#startHeartbeat(heartbeat);
  }

  /** Server: the client took these settings; the extensions are on. */
  #receiveSettings(settings: SettingsMessage): void {
    const link = this.#link;
    if (link.role !== "server" || !link.weftPeer || link.version !== 0) return;
    if (!PROTOCOL_VERSIONS.includes(settings.version)) throw new TypeError(`unknown version ${settings.version}`);
    const refusal = refusedSettings(settings, this.#codecsAccepted, this.#compressionOption, this.#checksumOption);
    if (refusal !== null) return this.#host.refuseConnection(refusal[0], refusal[1]);
    link.version = settings.version;
    this.#backpressure.useWindows(Number(settings.window) || 0);
    if (typeof settings.codec === "string") this.codec = settings.codec;
    this.#sender.useTransforms((settings.compression as CompressionFormat | null | undefined) ?? null, settings.checksum === "crc32");
    this.peerMetadata = Object.freeze(stringRecord(settings.metadata));
    this.peerAgent = agentOf(settings.agent);
    this.#startHeartbeat(agreedInterval(this.#heartbeat, Number(settings.heartbeat) || 0));
    const authenticate = this.#authenticate;
    if (authenticate === undefined) {
      this.stop();
      return this.#maybeRelease();
    }
    Promise.resolve()
      .then(() => authenticate(this.peerMetadata, this.#host.connection))
      .then(() => {
        if (this.#refused || link.state === CLOSED) return;
        this.stop();
        this.#authPending = false;
        this.#maybeRelease();
      }, (error) => {
        const code = error instanceof RpcError ? error.code : "unauthenticated";
        const message = error instanceof RpcError ? error.message : "authentication failed";
        this.#host.refuseConnection(code, message);
      });
  }

  #startHeartbeat(intervalMs: number): void {
    if (this.#link.state !== CLOSED) this.#liveness.start(intervalMs);
  }

  /** WINDOW_UPDATE: the peer read this many bytes of one of our streams. */
  #receiveWindowUpdate(id: RequestId, payload: Uint8Array): void {
    if (payload.length !== 4) throw new TypeError(`WINDOW_UPDATE payload must be 4 bytes, got ${payload.length}`);
    this.#host.grant(id, readUint32(payload, 0));
  }

  /** EXT: the block of a call the client sent before the handshake; the held call takes it. */
  #receiveDeferredExtensions(id: RequestId, block: Uint8Array): void {
    if (this.#awaitingExt?.delete(id) !== true) return;
    const entry = this.held?.find((frame) => frame[0] === id);
    if (entry !== undefined) {
      const joined = new Uint8Array(block.length + entry[3].length);
      joined.set(block);
      joined.set(entry[3], block.length);
      entry[1] |= WeftFlags.Extended;
      entry[3] = joined;
    }
    this.#maybeRelease();
  }

  /** Lets the held frames go once nothing holds them: authentication and EXT frames. */
  #maybeRelease(): void {
    if (this.held === null || this.#authPending || (this.#awaitingExt?.size ?? 0) > 0) return;
    const held = this.held;
    this.held = null;
    this.#heldBytes = 0;
    for (const [id, flags, cmd, payload] of held) this.#host.dispatch(id, flags, cmd, payload);
  }

  /** Client: the server refused this connection; everything here fails with its reason. */
  #receiveError(message: ErrorMessage): void {
    const code = (ErrorCodes as readonly string[]).includes(message.code) ? message.code as ErrorCode : "unknown";
    const error = new RpcError(code, `the server refused the connection: ${String(message.message)}`);
    this.#host.fail(error, error);
  }

  #receiveGoAway(message: GoAwayMessage): void {
    const link = this.#link;
    if (link.peerGoingAway !== null) return;
    link.peerGoingAway = String(message.reason ?? "going away");
    try {
      this.#onGoAway?.(link.peerGoingAway, this.#host.connection);
    } catch (error) {
      link.report(error);
    }
  }
}
