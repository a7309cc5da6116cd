/**
 * The debug page's HTML: one document, CSS and script inline, nothing fetched but its own
 * event stream. The contract (describe(router)) is embedded as JSON; live numbers arrive as
 * server-sent events, one StatsSnapshot (src/metrics/stats.ts) each.
 */
import type { ContractDescription } from "../src/typed/json_schema.ts";

export interface PageParts {
  title: string;
  eventsUrl: string;
  contract: ContractDescription | null;
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function debugPageHtml(parts: PageParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(parts.title)} · debug</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7385; --line: #e3e6ec; --bg: #fff; --panel: #f7f8fa; --accent: #3a5ccc; --bad: #c0392b; --ok: #2e8b57; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e4e7ee; --muted: #98a0b3; --line: #2c3240; --bg: #14171e; --panel: #1b1f28; --accent: #8aa4ff; --bad: #ff7a6b; --ok: #6bd69b; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
  header h1 { margin: 0; font-size: 18px; }
  header .live { font-size: 12px; color: var(--muted); }
  header .live.on::before { content: "●"; color: var(--ok); margin-right: 4px; }
  header .live.off::before { content: "●"; color: var(--bad); margin-right: 4px; }
  main { padding: 16px 24px 40px; max-width: 1280px; }
  .cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 20px; }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 130px; background: var(--panel); }
  .card .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .k { font-size: 12px; color: var(--muted); }
  h2 { font-size: 15px; margin: 24px 0 8px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: 12px; font-weight: 600; color: var(--muted); }
  td.n, th.n { text-align: right; }
  .name { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
  .shape { font-size: 11px; padding: 1px 6px; border-radius: 9px; border: 1px solid var(--line); color: var(--muted); }
  .codes span { display: inline-block; margin: 0 6px 2px 0; font-size: 12px; }
  .codes .err { color: var(--bad); }
  details summary { cursor: pointer; color: var(--accent); font-size: 12px; }
  pre { margin: 6px 0; padding: 8px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; overflow: auto; max-height: 280px; font-size: 12px; }
  .empty { color: var(--muted); font-style: italic; }
</style>
</head>
<body>
<header><h1>${escapeHtml(parts.title)}</h1><span id="live" class="live off">connecting…</span><span id="uptime" class="live"></span></header>
<main>
  <div class="cards">
    <div class="card"><div class="v" id="c-open">–</div><div class="k">connections open</div></div>
    <div class="card"><div class="v" id="c-opened">–</div><div class="k">opened</div></div>
    <div class="card"><div class="v" id="c-calls">–</div><div class="k">requests served</div></div>
    <div class="card"><div class="v" id="c-errors">–</div><div class="k">errors</div></div>
    <div class="card"><div class="v" id="c-inflight">–</div><div class="k">in flight</div></div>
    <div class="card"><div class="v" id="c-in">–</div><div class="k">bytes in</div></div>
    <div class="card"><div class="v" id="c-out">–</div><div class="k">bytes out</div></div>
    <div class="card"><div class="v" id="c-frames">–</div><div class="k">stream frames in / out</div></div>
    <div class="card"><div class="v" id="c-stalls">–</div><div class="k">flow-control stalls</div></div>
    <div class="card"><div class="v" id="c-hb">–</div><div class="k">heartbeat losses</div></div>
  </div>
  <h2>Procedures</h2>
  <table id="procedures"><thead><tr><th>procedure</th><th class="n">calls</th><th class="n">in flight</th><th class="n">errors</th><th>by code</th><th class="n">p50 ms</th><th class="n">p90 ms</th><th class="n">p99 ms</th></tr></thead><tbody></tbody></table>
  <h2>Connections</h2>
  <table id="connections"><thead><tr><th>#</th><th>remote address</th><th>runtime</th><th>codec</th><th>compression</th><th class="n">age</th><th class="n">calls in flight</th><th class="n">requests in flight</th><th class="n">streams</th><th class="n">requests</th><th class="n">bytes in</th><th class="n">bytes out</th><th class="n">stream frames in / out</th><th class="n">stalls</th></tr></thead><tbody></tbody></table>
</main>
<script type="application/json" id="contract">${scriptJson(parts.contract)}</script>
<script type="application/json" id="events-url">${scriptJson(parts.eventsUrl)}</script>
<script>
(() => {
  const contract = JSON.parse(document.getElementById("contract").textContent);
  const eventsUrl = JSON.parse(document.getElementById("events-url").textContent);
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const child of children) node.append(child);
    return node;
  };
  const num = (n) => (n === null || n === undefined ? "–" : n.toLocaleString("en-US"));
  const ms = (n) => (n === null || n === undefined ? "–" : n < 10 ? n.toFixed(2) : n.toFixed(0));
  const bytes = (n) => n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB";
  const age = (t) => { const s = Math.floor(t / 1000); return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " m " + (s % 60) + " s" : Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " m"; };
  // "weft/0.2.0 Bun/1.3.1" shows as "Bun/1.3.1"; the whole agent is the cell's tooltip.
  const runtime = (agent) => { if (!agent) return "–"; const space = agent.indexOf(" "); const rest = agent.startsWith("weft/") && space > 0 ? agent.slice(space + 1) : agent; return rest.length > 40 ? rest.slice(0, 39) + "…" : rest; };
  const stalls = (t) => t.creditWaits + t.readPauses;
  const rows = new Map();
  const procedures = $("procedures").tBodies[0];
  function rowFor(name) {
    let row = rows.get(name);
    if (row) return row;
    const described = contract && contract.procedures[name];
    const first = el("td", { class: "name" }, name + " ");
    if (described) {
      first.append(el("span", { class: "shape" }, described.shape + (described.cmd !== undefined ? " · cmd " + described.cmd : "")));
      const details = el("details", {}, el("summary", {}, "schemas"),
        el("div", {}, "input"), el("pre", {}, JSON.stringify(described.input, null, 2)),
        el("div", {}, "output"), el("pre", {}, JSON.stringify(described.output, null, 2)));
      if (described.description) first.append(el("div", { class: "empty" }, described.description));
      first.append(details);
    }
    row = el("tr", { "data-procedure": name }, first,
      el("td", { class: "n calls" }, "0"), el("td", { class: "n inflight" }, "0"), el("td", { class: "n errors" }, "0"),
      el("td", { class: "codes" }), el("td", { class: "n p50" }, "–"), el("td", { class: "n p90" }, "–"), el("td", { class: "n p99" }, "–"));
    procedures.append(row);
    rows.set(name, row);
    return row;
  }
  if (contract) for (const name of Object.keys(contract.procedures)) rowFor(name);
  function render(s) {
    $("c-open").textContent = num(s.connections.open);
    $("c-opened").textContent = num(s.connections.opened);
    $("c-in").textContent = bytes(s.connections.bytesRead);
    $("c-out").textContent = bytes(s.connections.bytesWritten);
    $("c-hb").textContent = num(s.connections.heartbeatLosses);
    $("c-frames").textContent = num(s.connections.streams.framesRead) + " / " + num(s.connections.streams.framesWritten);
    $("c-stalls").textContent = num(stalls(s.connections.streams));
    $("uptime").textContent = "up " + age(s.uptimeMs);
    let calls = 0, errors = 0, inFlight = 0;
    for (const p of s.procedures) {
      calls += p.calls; errors += p.errors; inFlight += p.inFlight;
      const row = rowFor(p.name);
      row.querySelector(".calls").textContent = num(p.calls);
      row.querySelector(".inflight").textContent = num(p.inFlight);
      row.querySelector(".errors").textContent = num(p.errors);
      const codes = row.querySelector(".codes");
      codes.replaceChildren(...Object.entries(p.codes).map(([code, n]) => el("span", { class: code === "ok" ? "ok" : "err" }, code + " " + n)));
      row.querySelector(".p50").textContent = ms(p.p50);
      row.querySelector(".p90").textContent = ms(p.p90);
      row.querySelector(".p99").textContent = ms(p.p99);
    }
    $("c-calls").textContent = num(calls);
    $("c-errors").textContent = num(errors);
    $("c-inflight").textContent = num(inFlight);
    const body = $("connections").tBodies[0];
    if (s.connections.live.length === 0) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "14", class: "empty" }, "no connections")));
    } else {
      body.replaceChildren(...s.connections.live.map((c) => el("tr", { "data-connection": String(c.id) },
        el("td", {}, String(c.id)), el("td", { class: "name" }, c.remoteAddress || "–"),
        el("td", { class: "runtime", title: c.peerAgent || "" }, runtime(c.peerAgent)), el("td", {}, c.codec),
        el("td", {}, c.compression || "none"), el("td", { class: "n" }, age(c.ageMs)),
        el("td", { class: "n" }, num(c.callsInFlight)), el("td", { class: "n" }, num(c.requestsInFlight)),
        el("td", { class: "n streams" }, num(c.streams.open)),
        el("td", { class: "n" }, num(c.requests)), el("td", { class: "n" }, bytes(c.bytesRead)), el("td", { class: "n" }, bytes(c.bytesWritten)),
        el("td", { class: "n" }, num(c.streams.framesRead) + " / " + num(c.streams.framesWritten)),
        el("td", { class: "n" }, num(stalls(c.streams))))));
    }
    window.weftDebug = { snapshots: (window.weftDebug?.snapshots ?? 0) + 1, last: s };
  }
  const live = $("live");
  const source = new EventSource(eventsUrl);
  source.onopen = () => { live.className = "live on"; live.textContent = "live"; };
  source.onerror = () => { live.className = "live off"; live.textContent = "reconnecting…"; };
  source.onmessage = (event) => render(JSON.parse(event.data));
})();
</script>
</body>
</html>
`;
}
