/**
 * The few stream helpers weft needs, on Web Streams alone. (Deno's @std/streams has
 * their like, but JSR cannot be reached from our build machines, so they live here.)
 */

/** Iterates a ReadableStream with a reader: works on every runtime and TS lib. */
export async function* iterateReadable<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * A ReadableStream that pulls from an async iterator, made on first pull, one value per
 * pull (no read-ahead, so the source's own backpressure holds); cancelling it calls `cancel`.
 */
export function readableFrom<T>(
  iterate: () => AsyncIterator<T>,
  cancel: (reason: unknown) => void,
): ReadableStream<T> {
  let iterator: AsyncIterator<T> | null = null;
  return new ReadableStream<T>({
    async pull(controller) {
      iterator ??= iterate();
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel,
  }, { highWaterMark: 0 });
}

/** True for a ReadableStream from any realm or polyfill (checked by shape, not class). */
export function isReadableStream(value: unknown): value is ReadableStream<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as ReadableStream).getReader === "function" &&
    typeof (value as ReadableStream).pipeTo === "function";
}

/** True for anything `for await` can walk. */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/** An async iterator over a ReadableStream or an (async) iterable. */
export function toAsyncIterator<T>(
  source: ReadableStream<T> | AsyncIterable<T> | Iterable<T>,
): AsyncIterator<T> {
  if (isReadableStream(source)) return iterateReadable(source as ReadableStream<T>);
  if (isAsyncIterable(source)) return (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  return (async function* () {
    yield* source as Iterable<T>;
  })();
}

/** Joins byte chunks into one buffer. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Reads a whole stream or iterable of byte chunks into one buffer. */
export async function collectBytes(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const iterator = toAsyncIterator(source);
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) return concatBytes(chunks);
    chunks.push(value);
  }
}
