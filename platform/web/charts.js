// Hand-written inline SVG charts. Each chart is an <figure> whose SVG has role="img" and a
// text summary; the numbers behind it are also in a table next to it, for screen readers.

import { h, uid } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 640, H = 240, PAD = { left: 84, right: 20, top: 28, bottom: 36 };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/**
 * points: [{x: number, y: number}] sorted by x; kind "line" or "bar".
 * xLabel/yLabel format axis ticks; summary describes the chart in words.
 */
export function chart({ title, points, kind = "line", xLabel = String, yLabel = String, yAxis = "", summary }) {
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${titleId} ${descId}`,
    class: `chart chart-kind-${kind}`, preserveAspectRatio: "xMidYMid meet",
  }, s("title", { id: titleId }, title), s("desc", { id: descId }, summary || describe(points, xLabel, yLabel)));

  if (points.length === 0) {
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" }, "No data yet"));
    return h("figure", { class: "chart-figure" }, svg, h("figcaption", {}, title));
  }
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  let y0 = Math.min(0, ...ys), y1 = Math.max(...ys);
  if (y0 === y1) y1 = y0 + 1;
  const plotW = W - PAD.left - PAD.right, plotH = H - PAD.top - PAD.bottom;
  const barW = kind === "bar" ? Math.max(2, plotW / points.length - 2) : 0;
  const px = (x) => PAD.left + barW / 2 + ((x - x0) / (x1 - x0)) * (plotW - barW);
  const py = (y) => PAD.top + plotH - ((y - y0) / (y1 - y0)) * plotH;

  const axes = s("g", { class: "chart-axes" },
    s("line", { x1: PAD.left, y1: py(y0), x2: W - PAD.right, y2: py(y0) }),
    s("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + plotH }));
  for (const y of new Set([y0, (y0 + y1) / 2, y1].map(Math.round))) {
    axes.append(
      s("line", { x1: PAD.left, y1: py(y), x2: W - PAD.right, y2: py(y), class: "chart-grid" }),
      s("text", { x: PAD.left - 6, y: py(y) + 4, "text-anchor": "end" }, yLabel(y)));
  }
  const first = xs[0], last = xs[xs.length - 1];
  if (first === last) {
    axes.append(s("text", { x: px(first), y: H - 10, "text-anchor": "middle" }, xLabel(first)));
  } else {
    axes.append(
      s("text", { x: px(first), y: H - 10, "text-anchor": "start" }, xLabel(first)),
      s("text", { x: px(last), y: H - 10, "text-anchor": "end" }, xLabel(last)));
  }
  if (yAxis) axes.append(s("text", { x: 8, y: 16, "text-anchor": "start", class: "chart-axis-title" }, yAxis));
  svg.append(axes);

  if (kind === "bar") {
    const g = s("g", { class: "chart-bars" });
    for (const p of points) {
      const top = py(Math.max(p.y, 0)), bottom = py(Math.min(p.y, 0));
      g.append(s("rect", { x: px(p.x) - barW / 2, y: top, width: barW, height: Math.max(1, bottom - top) },
        s("title", {}, `${xLabel(p.x)}: ${yLabel(p.y)}`)));
    }
    svg.append(g);
  } else {
    const d = points.map((p, i) => `${i ? "L" : "M"}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join("");
    svg.append(s("path", { d, class: "chart-line" }));
    const g = s("g", { class: "chart-dots" });
    for (const p of points) {
      g.append(s("circle", { cx: px(p.x), cy: py(p.y), r: 3 }, s("title", {}, `${xLabel(p.x)}: ${yLabel(p.y)}`)));
    }
    svg.append(g);
  }
  return h("figure", { class: "chart-figure" }, svg, h("figcaption", {}, title));
}

function describe(points, xLabel, yLabel) {
  if (points.length === 0) return "No data yet.";
  const ys = points.map((p) => p.y);
  const last = points[points.length - 1];
  return `${points.length} points from ${xLabel(points[0].x)} to ${xLabel(last.x)}; ` +
    `lowest ${yLabel(Math.min(...ys))}, highest ${yLabel(Math.max(...ys))}, latest ${yLabel(last.y)}.`;
}
