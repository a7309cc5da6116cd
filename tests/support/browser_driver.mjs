#!/usr/bin/env node
/**
 * Drives headless Chromium to a page and prints one JSON line: what the page left in
 * `window.weftResults`, plus its console errors and uncaught exceptions. Run with Node
 * (Playwright does not run on Deno), so the server under test can run on any runtime:
 *   node tests/support/browser_driver.mjs <url> [timeoutMs]
 * Exits 0 when it got results (whatever they say), 1 otherwise; the JSON says why.
 * The browser is always closed, and the whole run is bounded (chromium_driver.mjs).
 */
import { drive } from "./chromium_driver.mjs";

const [url, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg) || 20_000;
const out = { url, results: null, consoleErrors: [], pageErrors: [], error: null, ms: {} };

await drive({
  out,
  usage: url ? null : "usage: node tests/support/browser_driver.mjs <url> [timeoutMs]",
  timeoutMs,
  pageOptions: undefined,
  succeeded: () => out.results !== null,
  visit: async (page) => {
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
  },
});
