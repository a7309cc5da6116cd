/** A live progress line on stderr, redrawn in place, shown only when stderr is a terminal. */
import process from "node:process";

export class ProgressLine {
  readonly #enabled: boolean;
  #shown = false;

  constructor(enabled = process.stderr.isTTY === true) {
    this.#enabled = enabled;
  }

  /** Replaces the line with `text`. */
  show(text: string): void {
    if (!this.#enabled) return;
    process.stderr.write(`\r\x1b[2K${text}`);
    this.#shown = true;
  }

  /** Clears the line, leaving the cursor at its start. */
  clear(): void {
    if (!this.#enabled || !this.#shown) return;
    process.stderr.write("\r\x1b[2K");
    this.#shown = false;
  }
}
