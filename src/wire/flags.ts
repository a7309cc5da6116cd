/**
 * Frame flag bits, exactly as qrpc defines them (byte 12 of the header).
 * Bits 0x40 and 0x80 are unused by qrpc; its peers ignore them.
 */
export const Flags = {
  /** The frame belongs to a stream. */
  Stream: 0x01,
  /** Last frame of the sender's half of a stream. */
  StreamEnd: 0x02,
  /** Reset: cancel or abort the stream; cmd carries a reason code, payload is empty. */
  StreamRst: 0x04,
  /** The receiver may handle this request concurrently with others on the connection. */
  NonBlock: 0x08,
  /** Pushed frame: no response expected. */
  Push: 0x10,
  /** Payload transformed by a negotiated codec (compression). */
  Codec: 0x20,
} as const;

/** Either stream bit marks a stream frame: a lone StreamEnd is a one-frame stream. */
export const STREAM_BITS: number = Flags.Stream | Flags.StreamEnd;
