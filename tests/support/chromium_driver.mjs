/**
 * What the browser drivers (browser_driver.mjs, debug_page_driver.mjs) share: headless
 * Chromium (playwright-core, the system's /usr/bin/chromium or WEFT_CHROMIUM) launched with
 * the flags this machine needs, the page's console errors and uncaught exceptions collected,
 * a watchdog past every timeout, the browser always closed, and one JSON line on stdout at
 * the end. Run from Node: Playwright does not run on Deno.
 */
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";
// The network is closed here: without these, Chromium stalls on its own background traffic.
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Opens a page and runs `visit(page, elapsed)` on it, filling `out` (which must have
 * `consoleErrors`, `pageErrors`, `error` and `ms`). With `usage` set (bad arguments), prints
 * it and exits 2. Prints `out` as one JSON line and sets the exit code: 0 when `succeeded(out)`
 * and no error was recorded, else 1. The whole run is bounded by `timeoutMs` + 10 s.
 */
export async function drive({ out, usage, timeoutMs, pageOptions, visit, succeeded }) {
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const finish = (code) => {
    out.ms.total = elapsed();
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exitCode = code;
  };
  if (usage !== null) {
    out.error = usage;
    return finish(2);
  }
  if (!existsSync(CHROMIUM)) {
    out.error = `${CHROMIUM} is missing: install Chromium (apt-get install -y chromium)`;
    return finish(1);
  }
  let browser = null;
  // A last resort: if anything below hangs past its own timeouts, print what we have and go.
  const watchdog = setTimeout(() => {
    out.error ??= `gave up after ${timeoutMs + 10_000} ms`;
    finish(1);
    browser?.process?.()?.kill("SIGKILL");
    process.exit(1);
  }, timeoutMs + 10_000);
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: timeoutMs });
    out.ms.launch = elapsed();
    const page = await browser.newPage(pageOptions);
    page.on("console", (message) => {
      if (message.type() === "error") out.consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => out.pageErrors.push(String(error?.stack ?? error)));
    await visit(page, elapsed);
  } catch (error) {
    out.error ??= String(error?.stack ?? error);
  } finally {
    await browser?.close().catch(() => {});
    clearTimeout(watchdog);
  }
  finish(succeeded(out) && out.error === null ? 0 : 1);
}
