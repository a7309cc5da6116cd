/**
 * The read side of a light transport (see byte_streams.ts): chunks pushed by socket events,
 * pulled by the engine's `read()`, with the end or the failure after them. What a
 * ReadableStream does for a reader, minus its weight: one promise per read that has to wait,
 * none per chunk that is already there beyond the one `read()` returns.
 */
import type { ByteReadResult } from "./byte_streams.ts";

const END: ByteReadResult = { done: true, value: undefined };

interface Waiting {
  resolve(result: ByteReadResult): void;
  reject(error: unknown): void;
}

export class ChunkQueue {
  /** Chunks not read yet, from #head on. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  #waiting: Waiting | null = null;
  #ended = false;
  #error: unknown = undefined;
  #failed = false;
  /** Called once when the queue empties after `pauseUntilEmpty`: the owner resumes its socket. */
  #resume: (() => void) | null = null;

  /** Chunks waiting to be read. */
  get length(): number {
    return this.#chunks.length - this.#head;
  }

  /** True once ended or failed: later pushes are dropped. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Adds a chunk (a read waiting gets it at once); returns how many wait now. */
  push(chunk: Uint8Array): number {
    if (this.#ended) return 0;
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting.resolve({ done: false, value: chunk });
      return 0;
    }
    this.#chunks.push(chunk);
    return this.#chunks.length - this.#head;
  }

  /** The owner paused its socket: `resume` runs once the queue has been read empty. */
  pauseUntilEmpty(resume: () => void): void {
    this.#resume = resume;
  }

  read(): Promise<ByteReadResult> {
    if (this.#head < this.#chunks.length) {
      const value = this.#chunks[this.#head++];
      if (this.#head === this.#chunks.length) {
        this.#chunks.length = 0;
        this.#head = 0;
        const resume = this.#resume;
        this.#resume = null;
        if (resume !== null && !this.#ended) resume();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(END);
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  /** No more chunks: reads take what is queued, then end. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.resolve(END);
  }

  /** The source failed: as a Web Stream errors, what is queued is dropped and reads reject. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = this.#failed = true;
    this.#error = error;
    this.#chunks.length = this.#head = 0;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.reject(error);
  }
}
