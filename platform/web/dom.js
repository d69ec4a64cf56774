// Small DOM and formatting helpers. Text always goes in as text nodes, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...nodes(children));
  return el;
}

function nodes(children) {
  return children.flat(Infinity)
    .filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : String(c)));
}

export function replace(el, ...children) {
  el.replaceChildren(...nodes(children));
}

let ids = 0;
export function uid(prefix) { ids += 1; return `${prefix}-${ids}`; }

// A data table: `columns` are {label, cell(row), num}; the first column heads its row.
export function table(caption, columns, rows, emptyText) {
  if (!rows || rows.length === 0) return h("p", { class: "empty" }, emptyText);
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": caption },
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) =>
        h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c, i) =>
        h(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, class: c.num ? "num" : null },
          c.cell(row))))))));
}

// A section with a heading and a body that `load` fills; errors and missing features show in place.
export function panel(id, title, intro) {
  const body = h("div", { class: "panel-body", "aria-busy": "true" }, h("p", { class: "empty" }, "Loading…"));
  const heading = h("h2", { id: `${id}-h`, tabindex: "-1" }, title);
  const section = h("section", { id, "aria-labelledby": `${id}-h`, class: "panel" },
    heading, intro ? h("p", { class: "intro" }, intro) : null, body);
  return { section, body, heading };
}

/**
 * Replaces `body` with what `load` makes. A `background` refresh (the live updates) skips a body
 * holding the focus, and leaves a body alone when the new content is the same: the stream
 * refreshes often, and replacing a list the user is about to click in would lose the click.
 */
export async function fill(body, load, background = false) {
  if (background && body.contains(document.activeElement)) return;
  try {
    const scratch = document.createElement("div");
    replace(scratch, await load());
    if (background && scratch.innerHTML === body.innerHTML) return;
    body.replaceChildren(...scratch.childNodes);
  } catch (e) {
    replace(body, failure(e));
  } finally {
    body.setAttribute("aria-busy", "false");
  }
}

export function failure(e) {
  if (e.missing) return h("p", { class: "empty" }, "Not available on this server yet.");
  return h("p", { class: "error" }, e.message || String(e));
}

// ---- numbers: integers in, decimal text out (no floating point on money) ----

function scaled(value, places) {
  if (value === null || value === undefined) return "–";
  const n = BigInt(value);
  const negative = n < 0n;
  const abs = negative ? -n : n;
  const unit = 10n ** BigInt(places);
  const whole = (abs / unit).toLocaleString("en");
  const frac = (abs % unit).toString().padStart(places, "0");
  return `${negative ? "−" : ""}${whole}${places ? "." + frac : ""}`;
}

/** Micro-units of money as a decimal amount. */
export const money = (micro) => scaled(micro, 6);
/** Micro-units per kWh as a price per kWh. */
export const price = (micro) => (micro === null || micro === undefined ? "–" : `${scaled(micro, 6)}/kWh`);
/** Watt-hours as kWh. */
export const energy = (wh) => (wh === null || wh === undefined ? "–" : `${scaled(wh, 3)} kWh`);
export const grams = (g) => (g === null || g === undefined ? "–" : `${scaled(g, 3)} kg CO₂`);

/** A short decimal for chart ticks: micro-units with trailing zeros dropped (250000 → "0.25"). */
export const decimal = (micro, places = 6) => scaled(Math.round(micro), places).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");

/** UTC milliseconds as "2026-11-26 10:15 UTC". */
export function when(ms) {
  if (ms === null || ms === undefined) return "–";
  return new Date(Number(ms)).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/**
 * Parses decimal text into an integer of `places` decimals ("0.25", 6 → 250000).
 * Returns null for anything that is not a plain non-negative decimal.
 */
export function parseScaled(text, places) {
  const match = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!match) return null;
  const frac = (match[2] || "");
  if (frac.length > places) return null;
  const value = BigInt(match[1]) * 10n ** BigInt(places) + BigInt((frac + "0".repeat(places)).slice(0, places) || "0");
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(value);
}
