#!/usr/bin/env node
/**
 * Drives headless Chromium (playwright-core, the system's /usr/bin/chromium) to the debug page
 * (adapters/hono_debug.ts) for tests/debug_page.test.ts, in two steps:
 *   1. opens the page and waits until it lists `procedure` and has had a live snapshot, then
 *      prints "ready" on a line of its own (the test then makes one call);
 *   2. waits until the procedure's row shows 1 call, saves a screenshot to `screenshot`, and
 *      prints one JSON line: what the row showed, the page's errors, timings.
 *   node tests/support/debug_page_driver.mjs <url> <procedure> <screenshot.png> [timeoutMs]
 * Run with Node (Playwright does not run on Deno), so the server may run on any runtime.
 */
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const [url, procedure, screenshot, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg) || 20_000;
const started = Date.now();
const out = { url, row: null, connections: null, runtimes: null, consoleErrors: [], pageErrors: [], error: null, ms: {} };

function finish(code) {
  out.ms.total = Date.now() - started;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exitCode = code;
}

if (!url || !procedure || !screenshot) {
  out.error = "usage: node tests/support/debug_page_driver.mjs <url> <procedure> <screenshot.png> [timeoutMs]";
  finish(2);
} else if (!existsSync(CHROMIUM)) {
  out.error = `${CHROMIUM} is missing: install Chromium (apt-get install -y chromium)`;
  finish(1);
} else {
  let browser = null;
  const watchdog = setTimeout(() => {
    out.error ??= `gave up after ${timeoutMs + 10_000} ms`;
    finish(1);
    browser?.process?.()?.kill("SIGKILL");
    process.exit(1);
  }, timeoutMs + 10_000);
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: timeoutMs });
    out.ms.launch = Date.now() - started;
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 }, colorScheme: "light" });
    page.on("console", (message) => {
      if (message.type() === "error") out.consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => out.pageErrors.push(String(error?.stack ?? error)));
    await page.goto(url, { timeout: timeoutMs });
    const row = `tr[data-procedure="${procedure}"]`;
    await page.waitForFunction((row) => document.querySelector(row) !== null && (globalThis.weftDebug?.snapshots ?? 0) > 0, row, { timeout: timeoutMs });
    out.ms.ready = Date.now() - started;
    process.stdout.write("ready\n");
    await page.waitForFunction((row) => document.querySelector(`${row} .calls`)?.textContent === "1", row, { timeout: timeoutMs });
    out.ms.seen = Date.now() - started;
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
  } catch (error) {
    out.error ??= String(error?.stack ?? error);
  } finally {
    await browser?.close().catch(() => {});
    clearTimeout(watchdog);
  }
  finish(out.row !== null && out.error === null ? 0 : 1);
}
