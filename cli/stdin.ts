/**
 * A request stream from stdin: one JSON value per line (blank lines skipped), read as they
 * come, so a bidi call answers each line while more are typed.
 */
import process from "node:process";
import { parseJson } from "./output.ts";

/** Lines of stdin, as they arrive. */
async function* lines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array | string>) {
    buffered += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) !== -1) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  buffered += decoder.decode();
  if (buffered.length > 0) yield buffered;
}

/**
 * Each line of stdin parsed as JSON. A line that is not JSON throws a usage error (exit 2)
 * naming its line number; `onBad` hears it first, so the caller can stop the call.
 */
export async function* jsonLinesFromStdin(onBad: (error: Error) => void = () => {}): AsyncGenerator<unknown> {
  let number = 0;
  for await (const line of lines()) {
    number++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = parseJson(line, `stdin line ${number}`);
    } catch (error) {
      onBad(error as Error);
      throw error;
    }
    yield value;
  }
}

