/// The dashboard: one page, everything inline (the machine that runs a
/// gateway has no internet: no CDN, no web fonts). It reads the live
/// stream (`/api/stream`) and redraws in place; the chart comes from
/// `/api/history`, asked again whenever a new sample exists.
enum Dashboard {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fieldgw</title>
<link rel="icon" href="data:,">
<style>
:root { --ok: #1a7f37; --bad: #c62828; --warn: #b26a00; --muted: #667; --line: #dde; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; background: #f6f7f9; }
header { display: flex; flex-wrap: wrap; gap: .5em 1.5em; align-items: baseline; padding: .8em 1em; background: #1d2733; color: #fff; }
header h1 { margin: 0; font-size: 1.2em; }
header span { color: #cbd; }
main { padding: 1em; display: grid; gap: 1em; grid-template-columns: repeat(auto-fit, minmax(min(100%, 34em), 1fr)); }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8em 1em; min-width: 0; }
h2 { margin: 0 0 .4em; font-size: 1.05em; display: flex; gap: .6em; align-items: center; flex-wrap: wrap; }
.pill { display: inline-block; padding: 0 .5em; border-radius: 1em; font-size: .85em; color: #fff; }
.up, .online, .closed, .fresh { background: var(--ok); } .down, .offline, .open { background: var(--bad); } .probing, .stale { background: var(--warn); }
.muted { color: var(--muted); font-size: .9em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .2em .5em; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-weight: 600; color: var(--muted); font-size: .85em; }
dl { display: grid; grid-template-columns: repeat(auto-fill, minmax(9em, 1fr)); gap: .2em 1em; margin: .3em 0 .6em; }
dt { color: var(--muted); font-size: .8em; } dd { margin: 0; font-variant-numeric: tabular-nums; }
svg { width: 100%; height: 120px; display: block; }
.legend { font-size: .8em; color: var(--muted); }
#events li { margin: .1em 0; }
#events { padding-left: 1.2em; margin: 0; max-height: 16em; overflow-y: auto; }
</style>
</head>
<body>
<header><h1>fieldgw</h1><span id="summary">connecting…</span><span id="clock"></span></header>
<main>
<div id="lines" style="display: contents"></div>
<section><h2>Devices</h2><div id="devices" class="scroll"><p class="muted">no [[device]] configured</p></div></section>
<section><h2>Events</h2><ul id="events"><li class="muted">none yet</li></ul></section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("access_token");
const withToken = (path) => token ? path + (path.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(token) : path;
const el = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
};
const pill = (word) => el("span", { class: "pill " + word }, word);
const fixed = (value, digits) => value == null ? "–" : Number(value).toFixed(digits);
let history = {}, historyCount = -1, eventsTotal = -1;

function chart(samples) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 360 100");
  svg.setAttribute("preserveAspectRatio", "none");
  if (!samples || samples.length < 2) return svg;
  // The last hour, or less while the gateway has not run that long.
  const now = Date.now() / 1000, span = Math.min(3600, Math.max(60, now - samples[0].time));
  const maxRate = Math.max(1, ...samples.map(s => s.rate));
  const path = (key, scale) => samples.map((s, i) =>
    (i ? "L" : "M") + (360 - 360 * (now - s.time) / span).toFixed(1) + "," + (100 - 98 * s[key] / scale).toFixed(1)).join("");
  for (const [key, scale, colour] of [["utilisation", 1, "#1f6feb"], ["rate", maxRate, "#d97706"]]) {
    const line = document.createElementNS(svg.namespaceURI, "path");
    line.setAttribute("d", path(key, scale));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colour);
    line.setAttribute("stroke-width", "1.5");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
  }
  svg.dataset.maxRate = maxRate.toFixed(1);
  svg.dataset.span = span >= 3600 ? "last hour" : "last " + Math.ceil(span / 60) + " min";
  return svg;
}

function lineSection(line) {
  const facts = [["adapter", line.adapter], ["utilisation", fixed(100 * line.utilisation, 1) + " %"], ["queue", line.queue_depth],
    ["transactions", line.transactions], ["timeouts", line.timeouts], ["failed fast", line.failed_fast],
    ["refused busy", line.refused_busy], ["exceptions", line.exceptions], ["CRC errors", line.crc_errors],
    ["noise bytes", line.noise_bytes], ["load 1/5/15 min", [line.load.one, line.load.five, line.load.fifteen].map(v => fixed(v, 3)).join(" ")]];
  const rows = line.slaves.map(s => el("tr", { "data-slave": s.address },
    el("td", {}, String(s.address)), el("td", {}, s.online == null ? "–" : pill(s.online ? "online" : "offline")),
    el("td", {}, pill(s.breaker)), el("td", {}, fixed(s.timeout_milliseconds, 0) + " ms"),
    el("td", {}, s.latency_milliseconds == null ? "–" : fixed(s.latency_milliseconds, 1) + " ms"),
    el("td", {}, s.load ? [s.load.one, s.load.five, s.load.fifteen].map(v => fixed(v, 3)).join(" ") : "–")));
  const samples = history[line.name] || [];
  const svg = chart(samples);
  return el("section", { class: "line", "data-line": line.name },
    el("h2", {}, "Line " + line.name, pill(line.up ? "up" : "down")),
    el("dl", {}, ...facts.flatMap(([key, value]) => [el("dt", {}, key), el("dd", {}, String(value))])),
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["slave", "polled", "breaker", "timeout", "latency", "load 1/5/15"].map(h => el("th", {}, h)))),
      el("tbody", {}, ...rows))),
    svg,
    el("div", { class: "legend" }, (svg.dataset.span || "last hour") + ": ", el("span", { style: "color:#1f6feb" }, "■ utilisation (0–100 %)"), "  ",
      el("span", { style: "color:#d97706" }, "■ transactions/s (0–" + (svg.dataset.maxRate || "1") + ")")));
}

function deviceTable(devices) {
  if (!devices.length) return el("p", { class: "muted" }, "no [[device]] configured");
  const rows = devices.flatMap(d => d.members.map((m, i) => el("tr", { "data-device": d.name, "data-member": m.name },
    el("td", {}, i ? "" : d.name), el("td", {}, m.name), el("td", { class: "value" }, m.value == null ? "–" : String(m.value)),
    el("td", {}, m.age_seconds == null ? "–" : fixed(m.age_seconds, 1) + " s"), el("td", {}, pill(m.fresh ? "fresh" : "stale")),
    el("td", { class: "muted" }, d.line + "/" + d.slave + " " + m.address + " " + m.type))));
  return el("table", {}, el("thead", {}, el("tr", {}, ...["device", "member", "value", "age", "", "where"].map(h => el("th", {}, h)))),
    el("tbody", {}, ...rows));
}

async function refreshEvents() {
  const events = await (await fetch(withToken("/api/events"))).json();
  const list = document.getElementById("events");
  list.replaceChildren(...(events.length ? events.slice(-50).reverse().map(e =>
    el("li", {}, el("span", { class: "muted" }, new Date(e.time * 1000).toLocaleTimeString() + " "), e.message)) : [el("li", { class: "muted" }, "none yet")]));
}

async function show(live) {
  if (live.history_count !== historyCount) {
    historyCount = live.history_count;
    history = await (await fetch(withToken("/api/history"))).json();
  }
  if (live.events_total !== eventsTotal) { eventsTotal = live.events_total; refreshEvents(); }
  document.getElementById("lines").replaceChildren(...live.status.lines.map(lineSection));
  document.getElementById("devices").replaceChildren(deviceTable(live.devices));
  const up = live.status.lines.filter(l => l.up).length;
  document.getElementById("summary").textContent = live.status.lines.length + " lines, " + up + " up";
  document.getElementById("clock").textContent = new Date().toLocaleTimeString();
}

function connect() {
  const source = new EventSource(withToken("/api/stream"));
  source.onmessage = (message) => show(JSON.parse(message.data));
  source.onerror = () => { document.getElementById("summary").textContent = "connection lost, retrying…"; };
}
connect();
</script>
</body>
</html>
"""#
}
