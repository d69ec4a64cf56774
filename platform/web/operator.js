// The operator view: settlement reports with charts, flagged readings to review, the log checkpoint.

import { api, query } from "./api.js";
import { h, replace, table, panel, fill, failure, money, energy, grams, when, uid, decimal } from "./dom.js";
import { chart } from "./charts.js";

const items = (data, name) => (Array.isArray(data) ? data : (data && (data[name] || data.items)) || []);
const today = () => new Date().toISOString().slice(0, 10);

export function operatorView() {
  const reports = panel("reports", "Settlement reports", "Energy delivered, money moved and carbon avoided, per slot.");
  const flagged = panel("flagged", "Flagged readings", "Readings the verification rules flagged. Release them into settlement or reject them.");
  const log = panel("log", "Transparency log", "The signed checkpoint of the append-only settlement log.");

  const reportOut = h("div", { id: "report-out" });
  const reviewStatus = h("p", { id: "review-result", class: "status", role: "status", "aria-live": "polite" });
  const fromId = uid("from"), toId = uid("to"), zoneId = uid("zone");
  const reportForm = h("form", { id: "report-form", class: "inline-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: fromId }, "From (UTC day)"),
      h("input", { id: fromId, name: "from", type: "date", value: today(), required: true })),
    h("div", { class: "field" }, h("label", { for: toId }, "To (UTC day)"),
      h("input", { id: toId, name: "to", type: "date", value: today(), required: true })),
    h("div", { class: "field" }, h("label", { for: zoneId }, "Zone (optional)"),
      h("input", { id: zoneId, name: "zone" })),
    h("button", { type: "submit" }, "Show report"));
  reportForm.addEventListener("submit", (e) => { e.preventDefault(); loadReport(); });

  async function loadReport() {
    replace(reportOut, h("p", { class: "empty" }, "Loading…"));
    try {
      const f = reportForm;
      const data = await api(`/v1/reports${query({ from: f.from.value, to: f.to.value, zone: f.zone.value, format: "json" })}`);
      const rows = items(data, "rows");
      replace(reportOut,
        table("Report", [
          { label: "Slot", cell: (r) => `${r.zone ?? ""} · ${when(r.slot_start_ms)}` },
          { label: "Delivered", cell: (r) => energy(r.delivered_wh), num: true },
          { label: "Traded", cell: (r) => energy(r.traded_wh), num: true },
          { label: "Paid", cell: (r) => money(r.paid_micro ?? r.value_micro), num: true },
          { label: "Carbon avoided", cell: (r) => grams(r.carbon_avoided_g ?? r.carbon_g), num: true },
        ], rows, "Nothing was settled in this period."),
        rows.length ? chart({
          title: "Delivered energy per slot", kind: "bar",
          points: rows.map((r) => ({ x: Number(r.slot_start_ms), y: Number(r.delivered_wh ?? 0) })),
          xLabel: when, yLabel: (wh) => decimal(wh, 3), yAxis: "kWh delivered",
        }) : null);
    } catch (e) {
      replace(reportOut, failure(e));
    }
  }

  async function loadFlagged() {
    const list = items(await api("/v1/readings/flagged"), "readings");
    return table("Flagged readings", [
      { label: "Reading", cell: (r) => `${String(r.device_id).slice(0, 12)}… #${r.sequence}` },
      { label: "Time", cell: (r) => when(r.timestamp_ms ?? r.at_ms) },
      { label: "Energy", cell: (r) => energy(r.energy_wh), num: true },
      { label: "Reasons", cell: (r) => (r.reasons || []).join(", ") },
      { label: "Decision", cell: (r) => h("span", { class: "actions" },
        ["release", "reject"].map((verb) => h("button", {
          type: "button", class: `small ${verb}`,
          "aria-label": `${verb === "release" ? "Release" : "Reject"} reading ${r.sequence} of device ${r.device_id}`,
          onclick: () => review(r, verb),
        }, verb === "release" ? "Release" : "Reject"))) },
    ], list, "No flagged readings. Nothing to review.");
  }

  async function review(r, verb) {
    try {
      await api(`/v1/readings/flagged/${r.device_id}/${r.sequence}/${verb}`, { method: "POST" });
      reviewStatus.textContent = `Reading ${r.sequence} of ${String(r.device_id).slice(0, 12)}… ${verb === "release" ? "released" : "rejected"}.`;
    } catch (e) {
      reviewStatus.textContent = `Could not ${verb} the reading: ${e.message}`;
    }
    await fill(flagged.body, loadFlagged);
  }

  async function loadLog() {
    const c = await api("/v1/log/checkpoint");
    return h("dl", { class: "facts" },
      Object.entries(c).map(([k, v]) => [h("dt", {}, k.replaceAll("_", " ")),
        h("dd", { class: k.includes("hash") || k.includes("signature") || k.includes("key") ? "mono" : null },
          k.endsWith("_ms") ? when(v) : String(v))]));
  }

  reports.body.replaceWith(h("div", { class: "panel-body" }, reportForm, reportOut));
  flagged.section.append(reviewStatus);

  async function refresh(background = false) {
    if (!background) await loadReport();
    await Promise.all([fill(flagged.body, loadFlagged, background), fill(log.body, loadLog, background)]);
  }
  return { sections: [reports.section, flagged.section, log.section], refresh };
}
