/**
 * Every wait ends by itself. `withTimeout` bounds one wait (a phase, a close), breaking the
 * connection that stalled; the watchdog bounds the whole run: if the bench overruns the
 * time its rows should take (with room to spare), it kills its servers and exits with 2.
 */
import process from "node:process";
import { killChildren } from "./children.ts";
import type { Settings } from "./settings.ts";

/** Rejects with `message` if `promise` is not settled within `ms`; `onTimeout` runs first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string, onTimeout?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(message));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The backstop: exits with code 2 after the time `rows` rows per round should take, each
 * slice (and the warm-up) allowed `slackSeconds` more than planned.
 */
export function startWatchdog(settings: Settings, rows: number, slackSeconds: number): { clear(): void } {
  const { seconds, warmup, slice, rounds } = settings;
  const slicesPerRow = Math.max(1, Math.round(seconds / slice));
  const budgetMs = rows * rounds * (warmup + seconds + slackSeconds * (slicesPerRow + 1)) * 1000 + 60_000;
  const watchdog = setTimeout(() => {
    console.error(`bench: exceeded ${Math.round(budgetMs / 1000)} s, giving up`);
    killChildren();
    process.exit(2);
  }, budgetMs);
  return { clear: () => clearTimeout(watchdog) };
}
