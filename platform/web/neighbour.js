// The neighbour view: open slots with book and price chart, orders, trades, balances, devices.

import { api, query } from "./api.js";
import { h, replace, table, panel, fill, failure, money, price, energy, when, parseScaled, uid } from "./dom.js";
import { chart } from "./charts.js";

const items = (data, name) => (Array.isArray(data) ? data : (data && (data[name] || data.items)) || []);
const slotKey = (s) => `${s.zone}/${s.slot_start_ms}`;

export function neighbourView(me) {
  const market = panel("market", "Market", "Open delivery slots. Choose one to see its order book and prices.");
  const orders = panel("orders", "My orders");
  const trades = panel("trades", "My trades");
  const balances = panel("balances", "Balances and tokens");
  const devices = panel("devices", "My devices", "Production and reading status of your meters and inverters.");
  const sections = [market, orders, trades, balances, devices];

  let slots = [];
  let selected = null;
  const slotDetail = h("div", { id: "slot-detail" });
  const result = h("p", { id: "order-result", class: "status", role: "status", "aria-live": "polite" });
  const form = orderForm(me, () => selected, async (order) => {
    result.textContent = "Placing order…";
    try {
      const placed = await api("/v1/orders", { method: "POST", body: order });
      result.textContent = orderOutcome(placed);
      result.className = "status ok";
    } catch (e) {
      result.textContent = `Order refused: ${e.message}`;
      result.className = "status error";
    }
    await refresh();
  });

  async function loadMarket() {
    slots = items(await api("/v1/slots"), "slots");
    if (!selected || !slots.some((s) => slotKey(s) === selected)) selected = slots.length ? slotKey(slots[0]) : null;
    const picker = slots.length ? h("div", { class: "field" },
      h("label", { for: "slot-select" }, "Slot"),
      h("select", { id: "slot-select", onchange: (e) => { selected = e.target.value; loadSlot(); } },
        slots.map((s) => h("option", { value: slotKey(s), selected: slotKey(s) === selected },
          `${s.zone} · ${when(s.slot_start_ms)}`)))) : null;
    await loadSlot();
    return [
      table("Open slots", [
        { label: "Slot", cell: (s) => `${s.zone} · ${when(s.slot_start_ms)}` },
        { label: "Best bid", cell: (s) => price(s.best_bid_micro_per_kwh ?? s.best_bid), num: true },
        { label: "Best ask", cell: (s) => price(s.best_ask_micro_per_kwh ?? s.best_ask), num: true },
      ], slots, "No open slots right now."),
      picker, slotDetail, form, result,
    ];
  }

  async function loadSlot() {
    if (!selected) { replace(slotDetail); return; }
    const base = `/v1/slots/${selected}`;
    try {
      const [book, slotTrades] = await Promise.all([api(`${base}/book`), api(`${base}/trades`)]);
      const tradeList = items(slotTrades, "trades");
      const level = (side) => items(book, side);
      replace(slotDetail,
        h("div", { class: "cols" },
          table("Bids (buyers)", [
            { label: "Price", cell: (l) => price(l.price_micro_per_kwh ?? l.price), num: true },
            { label: "Quantity", cell: (l) => energy(l.quantity_wh ?? l.quantity), num: true },
          ], level("bids"), "No bids."),
          table("Asks (sellers)", [
            { label: "Price", cell: (l) => price(l.price_micro_per_kwh ?? l.price), num: true },
            { label: "Quantity", cell: (l) => energy(l.quantity_wh ?? l.quantity), num: true },
          ], level("asks"), "No asks.")),
        chart({
          title: "Trade prices in this slot",
          points: tradeList.map((t) => ({ x: Number(t.executed_at_ms ?? t.at_ms), y: Number(t.price_micro_per_kwh ?? t.price) })),
          xLabel: (ms) => when(ms).slice(11), yLabel: price,
        }));
    } catch (e) {
      replace(slotDetail, failure(e));
    }
  }

  async function loadOrders() {
    const list = items(await api("/v1/orders"), "orders");
    return table("My orders", [
      { label: "Order", cell: (o) => `#${o.id}` },
      { label: "Slot", cell: (o) => `${o.zone} · ${when(o.slot_start_ms)}` },
      { label: "Side", cell: (o) => o.side },
      { label: "Price", cell: (o) => price(o.price_micro_per_kwh ?? o.price), num: true },
      { label: "Quantity", cell: (o) => energy(o.quantity_wh ?? o.quantity), num: true },
      { label: "Left", cell: (o) => energy(o.remaining_wh ?? o.remaining), num: true },
      { label: "Status", cell: (o) => o.status },
      { label: "Action", cell: (o) => (isOpen(o) ? h("button", {
        type: "button", class: "small", "aria-label": `Cancel order ${o.id}`,
        onclick: async () => {
          try {
            await api(`/v1/orders/${o.id}`, { method: "DELETE" });
            result.textContent = `Order #${o.id} cancelled.`;
            result.className = "status ok";
          } catch (e) {
            result.textContent = `Could not cancel order #${o.id}: ${e.message}`;
            result.className = "status error";
          }
          await refresh();
        },
      }, "Cancel") : "") },
    ], list, "You have no orders.");
  }

  async function loadTrades() {
    const list = items(await api("/v1/trades"), "trades");
    return table("My trades", [
      { label: "Trade", cell: (t) => `#${t.id}` },
      { label: "Slot", cell: (t) => `${t.zone} · ${when(t.slot_start_ms)}` },
      { label: "Side", cell: (t) => t.side ?? "" },
      { label: "Price", cell: (t) => price(t.price_micro_per_kwh ?? t.price), num: true },
      { label: "Quantity", cell: (t) => energy(t.quantity_wh ?? t.quantity), num: true },
      { label: "Time", cell: (t) => when(t.executed_at_ms ?? t.at_ms) },
    ], list, "No trades yet.");
  }

  async function loadBalances() {
    const data = await api("/v1/balances");
    const list = items(data, "balances");
    return table("Balances", [
      { label: "Ledger", cell: (b) => b.ledger ?? b.currency ?? "money" },
      { label: "Available", cell: (b) => money(b.available ?? b.available_micro), num: true },
      { label: "Held in orders", cell: (b) => money(b.escrow ?? b.escrow_micro ?? b.pending_debits), num: true },
      { label: "Balance", cell: (b) => money(b.balance ?? b.balance_micro), num: true },
    ], list.length ? list : [data], "No balances yet.");
  }

  async function loadDevices() {
    const list = items(await api("/v1/devices"), "devices");
    if (list.length === 0) return h("p", { class: "empty" }, "No devices registered to your account.");
    return list.map((d) => deviceCard(d));
  }

  async function refresh() {
    await Promise.all([
      fill(market.body, loadMarket), fill(orders.body, loadOrders), fill(trades.body, loadTrades),
      fill(balances.body, loadBalances), fill(devices.body, loadDevices),
    ]);
  }

  return { sections: sections.map((p) => p.section), refresh, refreshMarket: refresh };
}

const isOpen = (o) => ["open", "partially_filled", "partial", "resting"].includes(o.status);

function orderOutcome(placed) {
  const o = placed.order || placed;
  const fills = items(placed.trades || placed.fills || [], "trades");
  const traded = fills.length ? ` It traded ${fills.length} time${fills.length > 1 ? "s" : ""}.` : "";
  return `Order #${o.id} placed: ${o.side} ${energy(o.quantity_wh ?? o.quantity)} at ${price(o.price_micro_per_kwh ?? o.price)}, status ${o.status}.${traded}`;
}

function orderForm(me, selectedSlot, submit) {
  const sideId = uid("side"), priceId = uid("price"), qtyId = uid("qty"), errId = uid("order-error");
  const error = h("p", { id: errId, class: "error", role: "alert" });
  const sides = me.role === "consumer" ? ["buy"] : ["buy", "sell"];
  const form = h("form", { id: "order-form", class: "card", novalidate: true },
    h("h3", {}, "Place an order"),
    h("div", { class: "field" }, h("label", { for: sideId }, "Side"),
      h("select", { id: sideId, name: "side" }, sides.map((s) => h("option", { value: s }, s === "buy" ? "Buy" : "Sell")))),
    h("div", { class: "field" }, h("label", { for: priceId }, "Price per kWh"),
      h("input", { id: priceId, name: "price", inputmode: "decimal", required: true, "aria-describedby": errId })),
    h("div", { class: "field" }, h("label", { for: qtyId }, "Quantity (kWh)"),
      h("input", { id: qtyId, name: "quantity", inputmode: "decimal", required: true, "aria-describedby": errId })),
    h("button", { type: "submit" }, "Place order"),
    error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    error.textContent = "";
    const slot = selectedSlot();
    const priceMicro = parseScaled(form.price.value, 6);
    const quantityWh = parseScaled(form.quantity.value, 3);
    if (!slot) { error.textContent = "There is no open slot to trade in."; return; }
    if (!priceMicro) { error.textContent = "Enter a price per kWh such as 0.25 (up to 6 decimals)."; form.price.focus(); return; }
    if (!quantityWh) { error.textContent = "Enter a quantity in kWh such as 1.5 (up to 3 decimals)."; form.quantity.focus(); return; }
    const [zone, start] = slot.split("/");
    submit({ zone, slot_start_ms: Number(start), side: form.side.value,
      price_micro_per_kwh: priceMicro, quantity_wh: quantityWh });
  });
  return form;
}

function deviceCard(d) {
  const id = d.device_id ?? d.id;
  const body = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const card = h("article", { class: "card device", "aria-label": `Device ${id}` },
    h("h3", {}, `Device ${String(id).slice(0, 12)}…`),
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, d.status ?? d.state ?? "–"),
      h("dt", {}, "Nameplate"), h("dd", {}, d.nameplate_w !== undefined ? `${d.nameplate_w} W` : "–"),
      h("dt", {}, "Zone"), h("dd", {}, d.zone ?? "–")),
    body);
  fill(body, async () => {
    const energyData = items(await api(`/v1/devices/${id}/energy${query({})}`), "slots");
    return chart({
      title: `Verified production of device ${String(id).slice(0, 12)}…`, kind: "bar",
      points: energyData.map((e) => ({ x: Number(e.slot_start_ms), y: Number(e.energy_wh ?? e.wh) })),
      xLabel: when, yLabel: energy,
    });
  });
  return card;
}
