#!/usr/bin/env node
/**
 * Drives headless Chromium (chromium_driver.mjs) to the debug page
 * (adapters/hono_debug.ts) for tests/debug_page.test.ts, in two steps:
 *   1. opens the page and waits until it lists `procedure` and has had a live snapshot, then
 *      prints "ready" on a line of its own (the test then makes one call);
 *   2. waits until the procedure's row shows 1 call, saves a screenshot to `screenshot`, and
 *      prints one JSON line: what the row showed, the page's errors, timings.
 *   node tests/support/debug_page_driver.mjs <url> <procedure> <screenshot.png> [timeoutMs]
 * Run with Node (Playwright does not run on Deno), so the server may run on any runtime.
 */
import { drive } from "./chromium_driver.mjs";

const [url, procedure, screenshot, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg) || 20_000;
const out = { url, row: null, connections: null, runtimes: null, consoleErrors: [], pageErrors: [], error: null, ms: {} };

await drive({
  out,
  usage: url && procedure && screenshot ? null : "usage: node tests/support/debug_page_driver.mjs <url> <procedure> <screenshot.png> [timeoutMs]",
  timeoutMs,
  pageOptions: { viewport: { width: 1280, height: 760 }, colorScheme: "light" },
  succeeded: () => out.row !== null,
  visit: async (page, elapsed) => {
    await page.goto(url, { timeout: timeoutMs });
    const row = `tr[data-procedure="${procedure}"]`;
    await page.waitForFunction((row) => document.querySelector(row) !== null && (globalThis.weftDebug?.snapshots ?? 0) > 0, row, { timeout: timeoutMs });
    out.ms.ready = elapsed();
    process.stdout.write("ready\n");
    await page.waitForFunction((row) => document.querySelector(`${row} .calls`)?.textContent === "1", row, { timeout: timeoutMs });
    out.ms.seen = elapsed();
    // Open the procedure's schemas, so the screenshot shows them too.
    await page.evaluate((row) => document.querySelector(`${row} details`)?.setAttribute("open", ""), row);
    out.row = await page.evaluate((row) => {
      const tr = document.querySelector(row);
      const cell = (name) => tr.querySelector(`.${name}`)?.textContent ?? null;
      return { name: tr.getAttribute("data-procedure"), calls: cell("calls"), errors: cell("errors"), codes: cell("codes"), p50: cell("p50") };
    }, row);
    out.connections = await page.evaluate(() => document.querySelectorAll("#connections tr[data-connection]").length);
    out.runtimes = await page.evaluate(() => [...document.querySelectorAll("#connections td.runtime")].map((td) => td.textContent));
    await page.screenshot({ path: screenshot, fullPage: true });
  },
});
