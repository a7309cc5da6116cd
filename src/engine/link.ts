/**
 * What the parts of one connection share (connection.ts makes one and hands it to each):
 * whether it is still open, what the two ends have agreed so far, the writer every frame
 * leaves through, and where errors go. Plain fields, read on every frame: no getters.
 */
import type { RpcError } from "../common/errors.ts";
import type { FrameWriter } from "../wire/frame_writer.ts";
import type { Role } from "./options.ts";

/** Open: calls both ways. */
export const OPEN = 0;
/** close() started: in-flight calls finish, new ones are refused. */
export const CLOSING = 1;
/** Done: everything failed or finished, the transport released. */
export const CLOSED = 2;

export class Link {
  readonly role: Role;
  /** Speak weft's extensions with a peer that shows it speaks weft (option `weft`). */
  readonly weft: boolean;
  readonly maxFrameSize: number;
  readonly writer: FrameWriter;
  /** OPEN, CLOSING or CLOSED. */
  state = OPEN;
  /** What new calls fail with once CLOSED. */
  closeError: RpcError | null = null;
  /** The peer showed it speaks weft: control frames may go to it, resets carry words. */
  weftPeer = false;
  /** Extension blocks may go to the peer (server: it greeted; client: the server greeted it). */
  extended = false;
  /** The weft version agreed with the peer; 0 while (or if) it speaks plain qrpc. */
  version = 0;
  /** Bytes read from the peer so far (the read loop adds each chunk's). */
  bytesRead = 0;
  /** Stream frames (either stream bit) read from the peer and sent to it, for instrumentation. */
  streamFramesRead = 0;
  streamFramesWritten = 0;
  /** Flow-control stalls: sends that waited for the peer's window; read pauses for an overfull stream. */
  creditWaits = 0;
  readPauses = 0;
  /** Client: WeftHello on its frames until it hears whether its server speaks weft. */
  helloBit = 0;
  /** Set once the peer announced it is going away (GOAWAY): new calls are refused. */
  peerGoingAway: string | null = null;
  /** Told of every PONG (a graceful close waits for the one that fences its GOAWAY). */
  onPong: ((payload: Uint8Array) => void) | null = null;
  /** Hands an error to the connection's onError (a hook that throws is ignored). */
  readonly report: (error: unknown) => void;

  constructor(role: Role, weft: boolean, maxFrameSize: number, writer: FrameWriter, report: (error: unknown) => void) {
    this.role = role;
    this.weft = weft;
    this.maxFrameSize = maxFrameSize;
    this.writer = writer;
    this.report = report;
  }
}
