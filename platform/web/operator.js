// The operator view: settlement reports with charts, flagged readings to review, the log checkpoint.

import { api, query } from "./api.js";
import { h, replace, table, panel, fill, failure, money, energy, grams, when, uid, decimal } from "./dom.js";
import { chart } from "./charts.js";

const items = (data, name) => (Array.isArray(data) ? data : (data && (data[name] || data.items)) || []);
const today = () => new Date().toISOString().slice(0, 10);
const DAY_MS = 24 * 3600 * 1000;

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
      // Whole UTC days: from the start of `from` to the end of `to`.
      const end = new Date(`${f.to.value}T00:00:00Z`).getTime() + DAY_MS;
      const rows = items(await api(`/v1/reports${query({
        from: `${f.from.value}T00:00:00Z`, to: new Date(end).toISOString(), zone: f.zone.value, format: "json",
      })}`), "rows").slice().sort((a, b) => a.slot_start_ms - b.slot_start_ms);
      const sum = (field) => rows.reduce((total, r) => total + Number(r[field] || 0), 0);
      replace(reportOut,
        rows.length ? h("dl", { class: "facts", id: "report-totals" },
          h("dt", {}, "Slots settled"), h("dd", {}, rows.length),
          h("dt", {}, "Trades"), h("dd", {}, sum("trades")),
          h("dt", {}, "Contracted / delivered"), h("dd", {}, `${energy(sum("contracted_wh"))} / ${energy(sum("delivered_wh"))}`),
          h("dt", {}, "Traded value"), h("dd", {}, money(sum("traded_amount_micro"))),
          h("dt", {}, "Carbon"), h("dd", {}, grams(sum("carbon_g")))) : null,
        rows.length ? chart({
          title: "Delivered energy per settled slot", kind: "bar",
          points: rows.map((r) => ({ x: r.slot_start_ms, y: r.delivered_wh })),
          xLabel: when, yLabel: (wh) => decimal(wh, 3), yAxis: "kWh delivered",
        }) : null,
        table("Settled slots", [
          { label: "Slot", cell: (r) => `${r.zone} · ${when(r.slot_start_ms)}` },
          { label: "Run", cell: (r) => r.run_version, num: true },
          { label: "Trades", cell: (r) => r.trades, num: true },
          { label: "Contracted", cell: (r) => energy(r.contracted_wh), num: true },
          { label: "Delivered", cell: (r) => energy(r.delivered_wh), num: true },
          { label: "Imbalance", cell: (r) => energy(r.imbalance_wh), num: true },
          { label: "Traded value", cell: (r) => money(r.traded_amount_micro), num: true },
          { label: "Carbon", cell: (r) => grams(r.carbon_g), num: true },
          { label: "Readings ok / flagged / rejected / missing", cell: (r) =>
            `${r.quality.verified} / ${r.quality.flagged} / ${r.quality.rejected} / ${r.quality.missing}` },
        ], rows, "Nothing was settled in this period."));
    } catch (e) {
      replace(reportOut, failure(e));
    }
  }

  async function loadFlagged() {
    const list = items(await api("/v1/readings/flagged"), "readings");
    return table("Flagged readings, oldest first", [
      { label: "Reading", cell: (r) => h("span", { class: "mono" }, `${r.device_id} #${r.sequence}`) },
      { label: "Time", cell: (r) => when(r.timestamp_ms) },
      { label: "Export", cell: (r) => energy(r.export_wh), num: true },
      { label: "Reasons", cell: (r) => r.reasons.join(", ") },
      { label: "Decision", cell: (r) => h("span", { class: "actions" },
        ["release", "reject"].map((decision) => h("button", {
          type: "button", class: `small ${decision}`,
          "aria-label": `${decision === "release" ? "Release" : "Reject"} reading ${r.sequence} of device ${r.device_id}`,
          onclick: () => review(r, decision),
        }, decision === "release" ? "Release" : "Reject"))) },
    ], list, "No flagged readings. Nothing to review.");
  }

  async function review(r, decision) {
    try {
      await api(`/v1/devices/${r.device_id}/readings/${r.sequence}/review`, { method: "POST", body: { decision } });
      reviewStatus.textContent = `Reading ${r.sequence} of device ${r.device_id} ${decision === "release" ? "released" : "rejected"}.`;
    } catch (e) {
      reviewStatus.textContent = `Could not ${decision} the reading: ${e.message}`;
    }
    await fill(flagged.body, loadFlagged);
    flagged.heading.focus();
  }

  // The checkpoint is a signed note: origin, tree size and root hash, a blank line, signatures.
  async function loadLog() {
    let note;
    try {
      note = await api("/v1/log/checkpoint");
    } catch (e) {
      if (e.status === 404 && !e.missing) return h("p", { class: "empty" }, "Nothing has been settled yet, so there is no checkpoint.");
      throw e;
    }
    const [origin, size, root] = String(note).split("\n");
    return [
      h("dl", { class: "facts", id: "checkpoint" },
        h("dt", {}, "Log"), h("dd", {}, origin),
        h("dt", {}, "Entries"), h("dd", {}, size),
        h("dt", {}, "Root hash"), h("dd", { class: "mono" }, root)),
      h("details", {}, h("summary", {}, "Signed checkpoint (text)"), h("pre", { class: "mono" }, note)),
    ];
  }

  reports.body.replaceWith(h("div", { class: "panel-body" }, reportForm, reportOut));
  flagged.section.append(reviewStatus);

  async function refresh(background = false) {
    if (!background) await loadReport();
    await Promise.all([fill(flagged.body, loadFlagged, background), fill(log.body, loadLog, background)]);
  }
  return { sections: [reports.section, flagged.section, log.section], refresh };
}
