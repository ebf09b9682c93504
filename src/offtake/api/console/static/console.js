// offtake console: live updates (server-sent events), table filter and sort, and inclusion
// proofs checked in the browser (RFC 9162 §2.1.3.2 with the page's own SHA-256).
"use strict";

function bindTables(root) {
  root.querySelectorAll("input[data-filter]").forEach((input) => {
    const table = document.getElementById(input.dataset.filter);
    const apply = () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      table.querySelectorAll("tbody tr").forEach((row) => {
        const text = row.textContent.toLowerCase();
        row.hidden = !words.every((w) => text.includes(w));
      });
    };
    input.addEventListener("input", apply);
    apply();
  });
  root.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th").forEach((th, column) => {
      th.tabIndex = 0;
      const sort = () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const key = (row) => {
          const text = row.cells[column].textContent.trim();
          const number = Number(text.replace(/,/g, ""));
          return Number.isNaN(number) ? text.toLowerCase() : number;
        };
        rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (ascending ? 1 : -1));
        rows.forEach((row) => body.appendChild(row));
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
  });
}

function followLive() {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const filter = () => document.getElementById("site-filter");
  const refresh = async () => {
    const kept = filter() ? filter().value : "";
    const answer = await fetch(live.dataset.liveUrl, { credentials: "same-origin" });
    if (!answer.ok) return;
    live.innerHTML = await answer.text();
    if (filter()) filter().value = kept;
    bindTables(live);
    live.dataset.updatedAt = String(Date.now());
  };
  const stream = new EventSource(live.dataset.streamUrl);
  stream.addEventListener("ready", () => { live.dataset.stream = "open"; });
  stream.addEventListener("changed", refresh);
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

async function sha256(prefix, ...parts) {
  const total = 1 + parts.reduce((n, p) => n + p.length, 0);
  const buffer = new Uint8Array(total);
  buffer[0] = prefix;
  let at = 1;
  for (const p of parts) { buffer.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
}

async function verifyInclusion(el) {
  const index = Number(el.dataset.index);
  const size = Number(el.dataset.size);
  const path = el.dataset.path ? el.dataset.path.split(",").map(unhex) : [];
  let r = await sha256(0, unhex(el.dataset.data));
  let fn = index;
  let sn = size - 1;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      r = await sha256(1, p, r);
      if (!(fn & 1)) { while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; } }
    } else {
      r = await sha256(1, r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  const root = hex(r);
  const signed = el.dataset.checkpointRoot;
  return sn === 0 && root === el.dataset.root && (!signed || signed === root);
}

async function checkProof() {
  const el = document.getElementById("proof");
  if (!el) return;
  const result = document.getElementById("proof-result");
  try {
    const ok = await verifyInclusion(el);
    result.textContent = ok
      ? (el.dataset.checkpointRoot ? "verified: the entry is in the signed checkpoint's tree" : "verified: the entry is in the current tree")
      : "FAILED: the entry or the path does not lead to the root";
    result.dataset.verified = ok ? "yes" : "no";
  } catch (error) {
    result.textContent = "could not check: " + error;
    result.dataset.verified = "error";
  }
}

function followRuns() {
  const runs = document.getElementById("runs");
  if (!runs) return;
  const tick = async () => {
    const answer = await fetch(runs.dataset.pollUrl, { credentials: "same-origin" });
    if (answer.ok) runs.innerHTML = await answer.text();
    const busy = runs.querySelector("tr[data-state='running'], tr[data-state='queued']");
    setTimeout(tick, busy ? 1000 : 5000);
  };
  setTimeout(tick, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  bindTables(document);
  followLive();
  followRuns();
  checkProof();
});
