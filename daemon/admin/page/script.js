// The live queue page. Everything it shows comes from /admin/api/ on this
// origin, with the credentials the browser signed in with; text from the
// database is only ever set as textContent, never parsed as HTML.
"use strict";

const api = "/admin/api/";
const maxRows = 200;
const seen = new Set();
const history = [];
let selected = null;

const $ = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

async function call(path, options = {}) {
  const response = await fetch(api + path, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", ...(options.body !== undefined ? { "Content-Type": "application/json" } : {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showDepth(stats) {
  // The queue itself; what was sent shows as the rate.
  const statuses = ["pending", "running", "dead", "unknown"];
  const kinds = [...new Set(stats.effects.map((s) => s.kind))].sort();
  const table = $("depth");
  table.tHead.replaceChildren();
  table.tBodies[0].replaceChildren();
  const head = table.tHead.insertRow();
  cell(head, "kind");
  for (const s of statuses) cell(head, s, "num s-" + s);
  for (const kind of kinds) {
    const row = table.tBodies[0].insertRow();
    cell(row, kind);
    for (const status of statuses) {
      const found = stats.effects.find((s) => s.kind === kind && s.status === status);
      cell(row, found ? String(found.count) : "0", "num");
    }
  }
  $("due").textContent = String(stats.due);
  $("oldest").textContent = stats.oldestDueSeconds.toFixed(1) + " s";
  $("rate").textContent = String(stats.sentLastMinute);
}

// Two lines over the last 150 polls (5 minutes): effects due, and effects
// sent in the minute before each poll.
function drawChart() {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const max = Math.max(1, ...history.map((h) => Math.max(h.due, h.sent)));
  const line = (field, color) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach((h, i) => {
      const x = (i / 149) * canvas.width;
      const y = canvas.height - 4 - (h[field] / max) * (canvas.height - 20);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  };
  line("due", "#d97706");
  line("sent", "#1d4ed8");
  ctx.fillStyle = "#8a93a6";
  ctx.fillText(String(max), 4, 12);
}

async function refreshStats() {
  try {
    const stats = await call("stats");
    showDepth(stats);
    history.push({ due: stats.due, sent: stats.sentLastMinute });
    if (history.length > 150) history.shift();
    drawChart();
  } catch (e) {
    $("status").textContent = "stats: " + e.message;
  }
}

function addTransition(t) {
  const id = t.id + " " + t.status + " " + t.at;
  if (seen.has(id)) return;
  seen.add(id);
  const body = $("transitions").tBodies[0];
  const row = body.insertRow(0);
  row.dataset.id = t.id;
  row.dataset.key = t.key;
  row.dataset.status = t.status;
  cell(row, t.at);
  cell(row, t.status, "s-" + t.status);
  cell(row, t.kind);
  cell(row, t.attempts + "/" + t.maxAttempts, "num");
  cell(row, t.key);
  cell(row, t.status === "sent" || t.status === "running" ? "" : t.error);
  row.addEventListener("click", () => showEffect(t.id));
  while (body.rows.length > maxRows) body.deleteRow(-1);
  if (seen.size > 5 * maxRows) seen.clear();
  if (selected === t.id) showEffect(t.id);
}

function follow() {
  const source = new EventSource(api + "transitions");
  source.onopen = () => ($("status").textContent = "live");
  source.onmessage = (m) => addTransition(JSON.parse(m.data));
  source.addEventListener("dropped", (m) => {
    const d = $("dropped");
    d.hidden = false;
    d.textContent = "(" + m.data + " changes not shown: this page read too slowly)";
  });
  source.onerror = () => ($("status").textContent = "reconnecting…");
}

async function showEffect(id) {
  selected = id;
  try {
    const e = await call("effects/" + encodeURIComponent(id));
    $("detail").hidden = false;
    $("detail-key").textContent = e.key;
    const fields = $("detail-fields");
    fields.replaceChildren();
    for (const name of ["id", "kind", "status", "attempts", "maxAttempts", "runAt", "lastError", "lockedBy", "providerMessageId", "sentAt", "createdAt", "updatedAt"]) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = e[name] === null || e[name] === undefined ? "–" : String(e[name]);
      dd.dataset.field = name;
      fields.append(dt, dd);
    }
    $("detail-payload").textContent = JSON.stringify(e.payload, null, 2);
    $("retry").disabled = !["dead", "unknown", "cancelled"].includes(e.status);
    $("cancel").disabled = !["pending", "dead", "unknown"].includes(e.status);
  } catch (err) {
    $("action-result").textContent = err.message;
  }
}

async function act(action) {
  if (!selected) return;
  // An unknown effect may have reached a provider that cannot deduplicate.
  const status = document.querySelector('#detail-fields dd[data-field="status"]');
  if (action === "retry" && status && status.textContent === "unknown" &&
      !window.confirm("This effect is unknown: an earlier attempt may have been delivered. " +
                      "Retrying it may deliver it twice. Retry?")) {
    $("action-result").textContent = "retry: nothing changed";
    return;
  }
  try {
    const e = await call("effects/" + encodeURIComponent(selected) + "/" + action, { method: "POST", body: "{}" });
    $("action-result").textContent = action + ": now " + e.status;
    showEffect(selected);
    refreshStats();
  } catch (err) {
    $("action-result").textContent = action + " refused: " + err.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("retry").addEventListener("click", () => act("retry"));
  $("cancel").addEventListener("click", () => act("cancel"));
  follow();
  refreshStats();
  setInterval(refreshStats, 2000);
});
