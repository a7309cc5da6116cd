/** `-H key=value` flags as call metadata. */
import type { Metadata } from "../mod.ts";
import { usage } from "./errors.ts";

/** The metadata `-H key=value` flags give (a later key wins); a flag with no `=` or no key is exit 2. */
export function metadataOf(headers: readonly string[] | undefined): Metadata | undefined {
  if (headers === undefined || headers.length === 0) return undefined;
  const metadata: Record<string, string> = {};
  for (const header of headers) {
    const at = header.indexOf("=");
    if (at <= 0) throw usage(`-H ${header}: expected key=value`);
    metadata[header.slice(0, at).trim()] = header.slice(at + 1);
  }
  return metadata;
}
