// mam's dashboard: plain JavaScript, no build step. Reads the admin API with the token given in
// the page's URL (?token=...), then follows /api/events (server-sent events, one a second).
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const auth = { headers: { Authorization: "Bearer " + token } };
const $ = (id) => document.getElementById(id);
const equityHistory = [];
// Per account: its equity at each update (the page's own history, as for the Σ curve).
const accountHistory = new Map();
let adaptiveDefault = false;
let selectedTicket = null;
let killEngaged = false;

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function fill(tableId, rows, render) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    render(tr, r);
    body.appendChild(tr);
  }
}

// Decimal strings are summed exactly as scaled integers (6 decimals, as the engine's Money).
function micros(s) {
  const neg = s.startsWith("-");
  const [i, f = ""] = s.replace("-", "").split(".");
  const v = BigInt(i) * 1000000n + BigInt((f + "000000").slice(0, 6));
  return neg ? -v : v;
}
function fromMicros(v) {
  const neg = v < 0n; if (neg) v = -v;
  const s = (v / 1000000n).toString() + "." + (v % 1000000n).toString().padStart(6, "0").slice(0, 2);
  return (neg ? "-" : "") + s;
}

function showStatus(st) {
  const e = st.engine;
  $("seq").textContent = st.journal.seq;
  $("n-accounts").textContent = e.accounts;
  $("n-tickets").textContent = e.open_tickets;
  $("n-orders").textContent = e.open_orders;
  $("adaptive").textContent = e.adaptive_on ? "on" : "off";
  killEngaged = e.kill_switch;
  $("kill").textContent = killEngaged ? "ENGAGED" : "off";
  $("kill-btn").textContent = killEngaged ? "release kill switch" : "engage kill switch";
  $("kill-btn").classList.toggle("on", killEngaged);
  fill("rings", st.rings, (tr, r) => { cell(tr, r.name); cell(tr, r.depth); cell(tr, r.pushed); cell(tr, r.full); });
  const c = Object.assign({}, e.counters, { "admin inputs": st.stage.admin });
  fill("counters", Object.entries(c), (tr, [k, v]) => { cell(tr, k); cell(tr, v); });
}

function showAccounts(list) {
  let total = 0n;
  for (const a of list) total += micros(a.equity);
  equityHistory.push(total);
  if (equityHistory.length > 600) equityHistory.shift();
  $("equity-now").textContent = "Σ equity " + fromMicros(total) + " over " + list.length + " accounts";
  drawCurve();
  fill("accounts", list, (tr, a) => {
    tr.dataset.id = a.id;
    cell(tr, a.id);
    cell(tr, a.status + (a.limit_hold ? " (limit)" : ""));
    cell(tr, a.balance);
    cell(tr, a.equity, a.equity.startsWith("-") ? "neg" : "");
    cell(tr, a.margin_level === null ? "–" : a.margin_level);
    cell(tr, (Number(a.drawdown) * 100).toFixed(2) + " %");
    let h = accountHistory.get(a.id);
    if (!h) { h = []; accountHistory.set(a.id, h); }
    h.push(micros(a.equity));
    if (h.length > 300) h.shift();
    cell(tr, "").innerHTML = '<svg class="spark" viewBox="0 0 100 20" preserveAspectRatio="none">' +
      polyline(h, 100, 20) + "</svg>";
    cell(tr, a.positions.map((p) => p.symbol + " " + p.lots).join(", "));
  });
}

// A polyline of exact amounts (BigInt micros) scaled into a w × h box (10 % margin).
function polyline(values, w, h) {
  // One point so far: a flat line across.
  const hist = values.length === 1 ? [values[0], values[0]] : values;
  let lo = hist[0], hi = hist[0];
  for (const v of hist) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const span = hi - lo || 1n;
  const n = hist.length;
  const pts = hist.map((v, i) =>
    (i * w / (n - 1)).toFixed(1) + "," +
    (h * 0.95 - Number((v - lo) * 1000n / span) * h * 0.9 / 1000).toFixed(1)).join(" ");
  return '<polyline fill="none" stroke="#4a6fd0" stroke-width="1.5" points="' + pts + '"/>';
}

function drawCurve() {
  if (equityHistory.length === 0) return;
  $("equity-curve").innerHTML = polyline(equityHistory, 600, 140);
}

function showManager(m) {
  const btn = $("alloc-btn");
  if (!m) { $("manager").textContent = "none"; btn.hidden = true; return; }
  const d = m.defaults;
  adaptiveDefault = d.allocation === "adaptive";
  $("manager").textContent = m.peer_comp_id + ": " + d.allocation + ", " + d.model + ", " + d.routing;
  btn.textContent = adaptiveDefault ? "switch to static" : "switch to adaptive";
}

function showLatency(lat) {
  const rows = Object.entries(lat.metrics);
  let max = 1;
  for (const [, m] of rows) max = Math.max(max, Number(m.run.p99_us));
  fill("latency", rows, (tr, [name, m]) => {
    cell(tr, name); cell(tr, m.run.count); cell(tr, m.run.p50_us); cell(tr, m.run.p99_us);
    cell(tr, m.run.p999_us); cell(tr, m.run.max_us);
    const td = cell(tr, "");
    for (const [q, cls] of [["p50_us", "bar"], ["p99_us", "bar p99"]]) {
      const b = document.createElement("span");
      b.className = cls;
      b.style.width = Math.max(1, 120 * Number(m.run[q]) / max) + "px";
      td.appendChild(b);
    }
  });
}

function showTickets(list) {
  fill("tickets", list, (tr, t) => {
    tr.dataset.ticket = t.ticket;
    if (String(t.ticket) === selectedTicket) tr.className = "sel";
    cell(tr, t.ticket); cell(tr, t.symbol); cell(tr, t.side); cell(tr, t.master_lots);
    cell(tr, t.accounts_holding); cell(tr, t.working_orders);
    tr.onclick = () => { selectedTicket = String(t.ticket); showSplit(); };
  });
  if (selectedTicket === null && list.length > 0) { selectedTicket = String(list[0].ticket); showSplit(); }
}

async function showSplit() {
  if (selectedTicket === null) return;
  const r = await fetch("api/tickets/" + selectedTicket, auth);
  showSplitOf(r.ok ? await r.json() : null);
}

function showSplitOf(t) {
  const box = $("split");
  if (!t) { box.textContent = ""; return; }
  box.innerHTML = "<h2>Ticket " + t.ticket + ": allocation per account</h2>";
  const table = document.createElement("table");
  table.id = "split-table";
  for (const s of t.split) {
    const tr = document.createElement("tr");
    cell(tr, s.account); cell(tr, s.lots);
    table.appendChild(tr);
  }
  box.appendChild(table);
}

async function load(path) {
  const r = await fetch(path, auth);
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

function apply(ev) {
  showStatus(ev.status);
  showAccounts(ev.accounts);
  showTickets(ev.tickets);
  showLatency(ev.latency);
  showManager(ev.manager);
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

$("kill-btn").onclick = async () => {
  await fetch("api/kill-switch", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ engaged: !killEngaged }),
  });
};

async function post(path, method, body) {
  const r = await fetch(path, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [r.ok, await r.json()];
}

$("alloc-btn").onclick = async () => {
  const [ok, v] = await post("api/manager", "PATCH", { allocation: adaptiveDefault ? "static" : "adaptive" });
  if (ok) showManager({ peer_comp_id: $("manager").textContent.split(":")[0], defaults: v.defaults });
};

$("reload-btn").onclick = async () => {
  const [ok, v] = await post("api/reload", "POST");
  $("reload-note").textContent = ok
    ? "reloaded: " + (v.limits.length + " limits, " + v.defaults.length + " defaults") +
      (v.restart.length ? "; waiting for a restart: " + v.restart.join(", ") : "")
    : "reload refused: " + v.error;
};

function follow() {
  const es = new EventSource("api/events?token=" + encodeURIComponent(token));
  es.addEventListener("snapshot", (m) => {
    apply(JSON.parse(m.data));
    $("conn").textContent = "live"; $("conn").className = "badge live";
  });
  es.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "badge down"; };
}

// The server writes the current picture into the page (window.MAM_INITIAL) when the URL
// carries the token: shown at once, before any request. Otherwise it is fetched.
const initial = window.MAM_INITIAL;
if (initial) {
  if (initial.split) selectedTicket = String(initial.split.ticket);
  apply(initial);
  showSplitOf(initial.split);
  $("conn").textContent = "loaded"; $("conn").className = "badge live";
}

(async function main() {
  if (!initial) {
    try {
      const [status, accounts, tickets, latency] = await Promise.all(
        ["api/status", "api/accounts", "api/tickets", "api/latency"].map(load));
      const m = await fetch("api/manager", auth);
      const manager = m.ok ? await m.json() : null;
      apply({ status, accounts: accounts.accounts, tickets: tickets.tickets, latency, manager });
      $("conn").textContent = "loaded"; $("conn").className = "badge live";
    } catch (e) {
      $("conn").textContent = "error: " + e.message; $("conn").className = "badge down";
      return;
    }
  }
  // Live updates start once the page has loaded.
  if (document.readyState === "complete") follow();
  else window.addEventListener("load", () => setTimeout(follow, 0));
})();
