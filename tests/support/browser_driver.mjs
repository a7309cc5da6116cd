#!/usr/bin/env node
/**
 * Drives headless Chromium (playwright-core, the system's /usr/bin/chromium) to a page and
 * prints one JSON line: what the page left in `window.weftResults`, plus its console
 * errors and uncaught exceptions. Run with Node (Playwright does not run on Deno), so the
 * server under test can run on any runtime:
 *   node tests/support/browser_driver.mjs <url> [timeoutMs]
 * Exits 0 when it got results (whatever they say), 1 otherwise; the JSON says why.
 * The browser is always closed, and the whole run is bounded by timeoutMs (default 20 s).
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

const [url, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg) || 20_000;
const started = Date.now();
const out = { url, results: null, consoleErrors: [], pageErrors: [], error: null, ms: {} };

function finish(code) {
  out.ms.total = Date.now() - started;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exitCode = code;
}

if (!url) {
  out.error = "usage: node tests/support/browser_driver.mjs <url> [timeoutMs]";
  finish(2);
} else if (!existsSync(CHROMIUM)) {
  out.error = `${CHROMIUM} is missing: install Chromium (apt-get install -y chromium)`;
  finish(1);
} else {
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
    out.ms.launch = Date.now() - started;
    const page = await browser.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") out.consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => out.pageErrors.push(String(error?.stack ?? error)));
    const t0 = Date.now();
    await page.goto(url, { timeout: timeoutMs });
    try {
      await page.waitForFunction(() => globalThis.weftResults?.done === true, null, { timeout: timeoutMs });
    } catch (error) {
      out.error = `the page did not finish within ${timeoutMs} ms: ${error?.message ?? error}`;
    }
    out.ms.page = Date.now() - t0;
    out.results = await page.evaluate(() => globalThis.weftResults ?? null);
    out.dom = await page.evaluate(() =>
      Object.fromEntries(["status", "unary", "stream", "push", "serverCall"].map((id) => [id, document.getElementById(id)?.textContent ?? null]))
    );
  } catch (error) {
    out.error ??= String(error?.stack ?? error);
  } finally {
    await browser?.close().catch(() => {});
    clearTimeout(watchdog);
  }
  finish(out.results !== null && out.error === null ? 0 : 1);
}
