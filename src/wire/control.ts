/**
 * weft's extension channel on qrpc's bytes: control frames and the hello marker.
 *
 * qrpc ignores flag bits 0x40 and 0x80 on ordinary frames, but closes a connection on a
 * cmd it does not know, so nothing weft-only may reach a peer before it shows it speaks
 * weft. The handshake adds no round trip before the first call:
 *
 *   client -> server  ordinary requests carrying WeftHello (0x40), until the server answers
 *   server -> client  HELLO control frame: the versions and features it offers
 *   client -> server  SETTINGS control frame: the version and features it takes
 *
 * A plain qrpc server never answers, so the client goes on in pure qrpc; a plain qrpc
 * client never sets 0x40, so a weft server never sends it a control frame.
 */

/** Flag bits weft uses, both unused by qrpc. */
export const WeftFlags = {
  /** On a client's ordinary frame before the handshake: "I speak weft". */
  Hello: 0x40,
  /** On a call's frame after the handshake: the payload starts with an extension block. */
  Extended: 0x40,
  /** A control frame: cmd is an opcode, the frame belongs to no call. */
  Control: 0x80,
} as const;

/** Control opcodes (the cmd of a control frame). */
export const Op = {
  Hello: 1,
  Settings: 2,
  Ping: 3,
  Pong: 4,
  GoAway: 5,
  /** The sender refuses the connection (failed authentication); it closes next. */
  Error: 6,
  /** Per-stream flow control: the frame's id names the stream, the payload is a u32 of bytes granted. */
  WindowUpdate: 7,
  /** The extension block of a call sent before the handshake (id: that call; payload: the block). */
  Ext: 8,
} as const;

/** The protocol versions this build speaks. */
export const PROTOCOL_VERSIONS: readonly number[] = [1];

/** HELLO: what the server offers. */
export interface HelloMessage {
  versions: number[];
  /** Milliseconds between heartbeats the server asks for; 0 turns them off. */
  heartbeat: number;
  maxFrameSize: number;
  /** The server's per-stream receive window in bytes; 0 or absent: no flow control. */
  window?: number;
  /** Largest extension block (metadata) the server accepts. */
  maxMetadataSize?: number;
  /** Payload codecs the server reads (names, as in src/codec/). */
  codecs?: string[];
  /** Compression formats the server accepts (CompressionStream names). */
  compression?: string[];
  /** Checksums the server accepts ("crc32"). */
  checksum?: string[];
  /** The server's software and runtime, for operators ("weft/0.2.0 Deno/2.5.0"). */
  agent?: string;
}

/** SETTINGS: what the client takes. */
export interface SettingsMessage {
  version: number;
  heartbeat: number;
  maxFrameSize: number;
  /** Connection metadata (an auth token, a client name...), for the server to accept or refuse. */
  metadata?: Record<string, string>;
  /** The client's per-stream receive window in bytes; 0 or absent: no flow control. */
  window?: number;
  /** Largest extension block (metadata) the client accepts. */
  maxMetadataSize?: number;
  /** The codec the client's payloads use. */
  codec?: string;
  /** The compression format both ends use from now on, or null. */
  compression?: string | null;
  /** "crc32": every call frame carries a CRC-32 of its payload from now on; or null. */
  checksum?: string | null;
  /** The client's software and runtime, for operators ("weft/0.2.0 Bun/1.3.1"). */
  agent?: string;
}

/** ERROR: why the sender refuses the connection. */
export interface ErrorMessage {
  code: string;
  message: string;
}

/** GOAWAY: the sender takes no new calls; those in flight finish. */
export interface GoAwayMessage {
  reason: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Control messages are small and rare: JSON keeps them readable on the wire. */
export function encodeControl(message: object): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/** Parses a control message; throws on anything that is not a JSON object. */
export function decodeControl<T>(payload: Uint8Array): T {
  const value = JSON.parse(decoder.decode(payload));
  if (typeof value !== "object" || value === null) throw new TypeError("control payload is not an object");
  return value as T;
}
