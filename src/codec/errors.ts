/**
 * Errors shared by the payload codecs (src/codec/). Kept apart from codec.ts so that the
 * codec modules never import the registry that imports them.
 */

/**
 * A payload that a codec cannot decode: invalid JSON, corrupt or truncated MessagePack,
 * bytes left over after the value. `codec` is the codec's wire name; `cause` is the
 * underlying parser's error when there is one.
 */
export class CodecError extends Error {
  override name = "CodecError";
  readonly codec: string;

  constructor(codec: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.codec = codec;
  }
}

/** A short description of a value's type for error messages: "string", "ArrayBuffer", "null", "array". */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const type = typeof value;
  if (type !== "object") return type;
  let name: unknown;
  try {
    name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    // A proxy or a getter that throws: the plain word will do.
  }
  return typeof name === "string" && name !== "" && name !== "Object" ? name : "object";
}
