/**
 * A server's cap on the work one connection may ask of it: frames and bytes per second,
 * each a token bucket that holds one second's worth. The read loop spends what each chunk
 * brought and, when a bucket runs dry, pauses that connection's reading until it refills;
 * nothing is refused or closed, and other connections are untouched. Off unless set.
 */
export interface RateLimitOptions {
  /** Frames per second one connection may send (default: no limit). */
  maxFramesPerSecond?: number;
  /** Bytes per second one connection may send (default: no limit). */
  maxBytesPerSecond?: number;
}

/** Longest single pause, so a connection paused by its rate still hears heartbeats soon. */
const MAX_PAUSE_MS = 1000;

export class RateLimit {
  readonly #frameRate: number;
  readonly #byteRate: number;
  #frames: number;
  #bytes: number;
  #at = performance.now();
  /** The decoder's frame count at the last chunk. */
  #framesSeen = 0;
  #pauseMs = 0;

  /** A limit, or null when neither rate is set (the read loop then skips it). */
  static from(options: RateLimitOptions): RateLimit | null {
    const frames = checkedRate(options.maxFramesPerSecond, "maxFramesPerSecond");
    const bytes = checkedRate(options.maxBytesPerSecond, "maxBytesPerSecond");
    return frames === Infinity && bytes === Infinity ? null : new RateLimit(frames, bytes);
  }

  private constructor(frameRate: number, byteRate: number) {
    this.#frameRate = frameRate;
    this.#byteRate = byteRate;
    this.#frames = frameRate;
    this.#bytes = byteRate;
  }

  /**
   * Spends a chunk's frames (given as the decoder's running count) and bytes; returns how
   * many ms to pause reading (0: go on).
   */
  spend(framesTotal: number, bytes: number): number {
    const frames = framesTotal - this.#framesSeen;
    this.#framesSeen = framesTotal;
    const now = performance.now();
    const seconds = (now - this.#at) / 1000;
    this.#at = now;
    this.#frames = Math.min(this.#frameRate, this.#frames + seconds * this.#frameRate) - frames;
    this.#bytes = Math.min(this.#byteRate, this.#bytes + seconds * this.#byteRate) - bytes;
    // Seconds until both buckets are back to zero (an unlimited one never owes anything).
    const framesOwed = this.#frameRate === Infinity ? 0 : -this.#frames / this.#frameRate;
    const bytesOwed = this.#byteRate === Infinity ? 0 : -this.#bytes / this.#byteRate;
    const owed = Math.max(framesOwed, bytesOwed, 0);
    return (this.#pauseMs = Math.min(MAX_PAUSE_MS, Math.ceil(owed * 1000)));
  }

  /** Waits out the pause the last `spend` asked for. */
  pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.#pauseMs));
  }
}

function checkedRate(value: number | undefined, name: string): number {
  if (value === undefined) return Infinity;
  if (!(value > 0)) throw new TypeError(`${name} must be a positive number, got ${value}`);
  return value;
}
