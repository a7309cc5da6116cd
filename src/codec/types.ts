/**
 * What a codec is. Contract for every codec:
 * - encode(value) returns the payload bytes, or throws a TypeError for a value the format
 *   cannot carry (the message says what and, where it helps, what to use instead).
 * - decode(bytes) returns the value, or throws a CodecError for bytes that are not exactly
 *   one valid value of the format. It never blocks and never returns a value it knows to
 *   be corrupt.
 * - Both are synchronous and stateless between calls; a codec object can be shared by any
 *   number of connections.
 */
export interface Codec {
  /** The wire name: how peers refer to this codec, and its key in `codecs`. */
  readonly name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}
