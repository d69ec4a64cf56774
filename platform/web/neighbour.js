// The neighbour view: open slots with book and price chart, orders, trades, balances, devices.

import { api, query } from "./api.js";
import { h, replace, table, panel, fill, failure, money, price, energy, grams, when, parseScaled, uid, decimal } from "./dom.js";
import { chart } from "./charts.js";

const items = (data, name) => (Array.isArray(data) ? data : (data && (data[name] || data.items)) || []);
const slotKey = (s) => `${s.zone}/${s.slot_start_ms}`;

// Of the ~200 open slots, the table shows those with quotes, or else the next few.
const ACTIVE_SLOTS_SHOWN = 12;
const NEXT_SLOTS_SHOWN = 4;

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
    result.className = "status";
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

  // The form, the slot picker and the result line stay in place across refreshes, so what a
  // user is typing or focusing survives the polling.
  const slotsBox = h("div", { "aria-busy": "true" });
  const pickerBox = h("div", { class: "field" });
  let pickerKeys = "";
  replace(market.body, slotsBox, pickerBox, slotDetail, form, result);
  market.body.setAttribute("aria-busy", "false");

  async function loadMarket() {
    slots = items(await api("/v1/slots"), "slots");
    const quoted = slots.filter((s) => s.best_bid_micro_per_kwh != null || s.best_ask_micro_per_kwh != null);
    if (!selected || !slots.some((s) => slotKey(s) === selected)) {
      const first = quoted[0] || slots[0];
      selected = first ? slotKey(first) : null;
    }
    const keys = slots.map(slotKey).join(",");
    if (keys !== pickerKeys && !pickerBox.contains(document.activeElement)) {
      pickerKeys = keys;
      replace(pickerBox, slots.length ? [
        h("label", { for: "slot-select" }, "Slot to trade"),
        h("select", { id: "slot-select", onchange: (e) => { selected = e.target.value; loadSlot(); } },
          slots.map((s) => h("option", { value: slotKey(s), selected: slotKey(s) === selected }, slotName(s))))] : null);
    }
    const shown = quoted.length ? quoted.slice(0, ACTIVE_SLOTS_SHOWN) : slots.slice(0, NEXT_SLOTS_SHOWN);
    await loadSlot();
    return table(quoted.length ? "Slots with orders" : "Next slots (no orders yet)", [
      { label: "Slot", cell: slotName },
      { label: "Gate closes", cell: (s) => when(s.gate_closure_ms) },
      { label: "Best bid", cell: (s) => price(s.best_bid_micro_per_kwh), num: true },
      { label: "Best ask", cell: (s) => price(s.best_ask_micro_per_kwh), num: true },
    ], shown, "No open slots right now.");
  }

  async function loadSlot() {
    if (!selected) { replace(slotDetail); return; }
    if (slotDetail.contains(document.activeElement)) return;
    const base = `/v1/slots/${selected}`;
    try {
      const [book, slotTrades, stats] = await Promise.all([
        api(`${base}/book`), api(`${base}/trades`), api(`${base}/stats`)]);
      const levels = (caption, list, empty) => table(caption, [
        { label: "Price", cell: (l) => price(l.price_micro_per_kwh), num: true },
        { label: "Quantity", cell: (l) => energy(l.qty_wh), num: true },
        { label: "Orders", cell: (l) => l.orders, num: true },
      ], list, empty);
      const tradeList = items(slotTrades, "trades").slice().sort((a, b) => a.at_ms - b.at_ms);
      replace(slotDetail,
        h("h3", {}, `Order book: ${book.zone} · ${when(book.slot_start_ms)}`),
        h("div", { class: "cols" },
          levels("Bids (buyers), best first", book.bids, "No bids."),
          levels("Asks (sellers), best first", book.asks, "No asks.")),
        h("dl", { class: "facts" },
          h("dt", {}, "Trades"), h("dd", {}, stats.trades),
          h("dt", {}, "Volume"), h("dd", {}, energy(stats.volume_wh)),
          h("dt", {}, "Low / high"), h("dd", {}, `${price(stats.low_micro_per_kwh)} / ${price(stats.high_micro_per_kwh)}`),
          h("dt", {}, "Average (VWAP)"), h("dd", {}, price(stats.vwap_micro_per_kwh))),
        chart({
          title: "Trade prices in this slot",
          points: tradeList.map((t) => ({ x: t.at_ms, y: t.price_micro_per_kwh })),
          xLabel: (ms) => when(ms).slice(11), yLabel: (v) => decimal(v), yAxis: "price per kWh",
        }));
    } catch (e) {
      replace(slotDetail, failure(e));
    }
  }

  async function cancel(o) {
    try {
      await api(`/v1/orders/${o.order_id}`, { method: "DELETE" });
      result.textContent = `Order #${o.order_id} cancelled.`;
      result.className = "status ok";
    } catch (e) {
      result.textContent = `Could not cancel order #${o.order_id}: ${e.message}`;
      result.className = "status error";
    }
    await refresh();
  }

  async function loadOrders() {
    const list = items(await api("/v1/orders"), "orders");
    return table("My orders, newest first", [
      { label: "Order", cell: (o) => `#${o.order_id}` },
      { label: "Slot", cell: slotName },
      { label: "Side", cell: (o) => o.side },
      { label: "Price", cell: (o) => price(o.price_micro_per_kwh), num: true },
      { label: "Quantity", cell: (o) => energy(o.qty_wh), num: true },
      { label: "Filled", cell: (o) => energy(o.filled_wh), num: true },
      { label: "Status", cell: (o) => o.status },
      { label: "Action", cell: (o) => (o.status === "open" ? h("button", {
        type: "button", class: "small", "aria-label": `Cancel order ${o.order_id}`, onclick: () => cancel(o),
      }, "Cancel") : "") },
    ], list, "You have no orders.");
  }

  async function loadTrades() {
    const list = items(await api("/v1/trades"), "trades");
    return table("My trades, newest first", [
      { label: "Trade", cell: (t) => `#${t.trade_id}` },
      { label: "Slot", cell: slotName },
      { label: "My side", cell: (t) => (t.my_side === "buy" ? "bought" : "sold") },
      { label: "Quantity", cell: (t) => energy(t.qty_wh), num: true },
      { label: "Price", cell: (t) => price(t.price_micro_per_kwh), num: true },
      { label: "Value", cell: (t) => money(t.value_micro), num: true },
      { label: "Time", cell: (t) => when(t.at_ms) },
    ], list, "No trades yet.");
  }

  // Trading funds (what orders can spend) and the settlement ledgers (money, carbon credits,
  // reward tokens) are two views of the account; both are shown.
  async function loadBalances() {
    const [funds, ledgers] = await Promise.all([api("/v1/balances"), api("/v1/ledger/balances")]);
    const unit = (ledger) => ({ currency: money, carbon: grams })[ledger] || ((v) => String(v));
    const name = (ledger) => ({ currency: "Money", carbon: "Carbon credit", reward: "Reward tokens" })[ledger] || ledger;
    return h("div", {},
      h("dl", { class: "facts", id: "balance-facts" },
        h("dt", {}, "Available"), h("dd", {}, money(funds.available_micro)),
        h("dt", {}, "Held by open buy orders"), h("dd", {}, money(funds.escrow_micro)),
        h("dt", {}, "Free to spend"), h("dd", {}, money(funds.free_micro))),
      table("Settled balances and tokens per ledger", [
        { label: "Ledger", cell: (b) => name(b.ledger) },
        { label: "Balance", cell: (b) => unit(b.ledger)(b.balance), num: true },
        { label: "Available", cell: (b) => unit(b.ledger)(b.available), num: true },
        { label: "Pending out", cell: (b) => unit(b.ledger)(b.pending_debits), num: true },
        { label: "Pending in", cell: (b) => unit(b.ledger)(b.pending_credits), num: true },
      ], ledgers.balances || [], "Nothing settled yet."));
  }

  // Without a "my devices" listing on the server, the page looks devices up by id and keeps
  // the ids for this tab.
  const DEVICES_KEY = "sunmesh.devices";
  const knownDevices = () => JSON.parse(sessionStorage.getItem(DEVICES_KEY) || "[]");
  const lookup = deviceLookup((id) => {
    const ids = knownDevices().filter((d) => d !== id);
    sessionStorage.setItem(DEVICES_KEY, JSON.stringify([id, ...ids].slice(0, 10)));
    fill(devices.body, loadDevices);
  });

  async function loadDevices() {
    let ids;
    try {
      ids = items(await api("/v1/devices"), "devices").map((d) => d.device_id ?? d.id);
    } catch (e) {
      if (!e.missing) throw e;
      ids = knownDevices();
    }
    return [
      ids.length ? ids.map((id) => deviceCard(id)) : h("p", { class: "empty" }, "No devices shown yet."),
      lookup,
    ];
  }

  // `background`: a polling refresh, which leaves alone the part the user has focus in.
  async function refresh(background = false) {
    await Promise.all([
      fill(slotsBox, loadMarket, background), fill(orders.body, loadOrders, background),
      fill(trades.body, loadTrades, background), fill(balances.body, loadBalances, background),
      fill(devices.body, loadDevices, background),
    ]);
  }

  return { sections: sections.map((p) => p.section), refresh };
}

const slotName = (s) => `${s.zone} · ${when(s.slot_start_ms)}`;

function orderOutcome({ order, trades }) {
  const traded = trades.length
    ? ` Traded ${energy(trades.reduce((sum, t) => sum + t.qty_wh, 0))} in ${trades.length} trade${trades.length > 1 ? "s" : ""}.`
    : "";
  return `Order #${order.order_id} placed: ${order.side} ${energy(order.qty_wh)} at ${price(order.price_micro_per_kwh)}, now ${order.status}.${traded}`;
}

let clientOrderSeq = 0;
// Unique per account while a slot is open: milliseconds since 1970 × 1000 + a counter.
const nextClientOrderId = () => Date.now() * 1000 + (clientOrderSeq++ % 1000);

function orderForm(me, selectedSlot, submit) {
  const sideId = uid("side"), priceId = uid("price"), qtyId = uid("qty"), errId = uid("order-error");
  const error = h("p", { id: errId, class: "error", role: "alert" });
  const sides = me.role === "consumer" ? ["buy"] : ["buy", "sell"];
  const form = h("form", { id: "order-form", class: "card", novalidate: true },
    h("h3", {}, "Place an order in the chosen slot"),
    h("div", { class: "inline-form" },
      h("div", { class: "field" }, h("label", { for: sideId }, "Side"),
        h("select", { id: sideId, name: "side" }, sides.map((s) => h("option", { value: s }, s === "buy" ? "Buy" : "Sell")))),
      h("div", { class: "field" }, h("label", { for: priceId }, "Limit price per kWh"),
        h("input", { id: priceId, name: "price", inputmode: "decimal", autocomplete: "off", required: true, "aria-describedby": errId })),
      h("div", { class: "field" }, h("label", { for: qtyId }, "Quantity (kWh)"),
        h("input", { id: qtyId, name: "quantity", inputmode: "decimal", autocomplete: "off", required: true, "aria-describedby": errId })),
      h("button", { type: "submit" }, "Place order")),
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
    submit({ client_order_id: nextClientOrderId(), zone, slot_start_ms: Number(start), side: form.side.value,
      type: "limit", price_micro_per_kwh: priceMicro, qty_wh: quantityWh });
  });
  return form;
}

function deviceLookup(found) {
  const inputId = uid("device-id");
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { id: "device-form", class: "inline-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: inputId }, "Device id (32 hex characters, as printed by sunmesh device add)"),
      h("input", { id: inputId, name: "device", autocomplete: "off", spellcheck: "false", size: 34 })),
    h("button", { type: "submit" }, "Show device"), error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = form.device.value.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) { error.textContent = "A device id is 32 hexadecimal characters."; form.device.focus(); return; }
    error.textContent = "";
    form.device.value = "";
    found(id);
  });
  return form;
}

const DAY_MS = 24 * 3600 * 1000;

function deviceCard(id) {
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "empty" }, "Loading…"));
  const card = h("article", { class: "card device", "aria-labelledby": `device-${id}-h` },
    h("h3", { id: `device-${id}-h` }, "Device ", h("span", { class: "mono" }, id)), body);
  fill(body, async () => {
    const to = Math.ceil(Date.now() / 900000) * 900000;
    const [energyData, page, gaps] = await Promise.all([
      api(`/v1/devices/${id}/energy${query({ from_ms: to - DAY_MS, to_ms: to })}`),
      api(`/v1/devices/${id}/readings${query({ limit: 1000 })}`),
      api(`/v1/devices/${id}/gaps`),
    ]);
    const readings = items(page, "readings");
    const count = (verdict) => readings.filter((r) => r.verdict === verdict).length;
    const latest = readings.slice(-8).reverse();
    return [
      h("dl", { class: "facts" },
        h("dt", {}, "Readings"), h("dd", {}, `${readings.length}${page.next_after != null ? "+" : ""}`),
        h("dt", {}, "Accepted / flagged / rejected"), h("dd", {}, `${count("accepted")} / ${count("flagged")} / ${count("rejected")}`),
        h("dt", {}, "Gaps in the chain"), h("dd", {}, items(gaps, "gaps").length)),
      chart({
        title: "Verified production per slot, last 24 hours", kind: "bar",
        points: items(energyData, "slots").map((e) => ({ x: e.slot_start_ms, y: e.export_wh })),
        xLabel: when, yLabel: (wh) => decimal(wh, 3), yAxis: "kWh per slot",
      }),
      table("Latest readings", [
        { label: "Sequence", cell: (r) => r.sequence },
        { label: "Time", cell: (r) => when(r.timestamp_ms) },
        { label: "Export", cell: (r) => energy(r.export_wh), num: true },
        { label: "Status", cell: (r) => r.verdict },
        { label: "Reasons", cell: (r) => r.reasons.join(", ") },
      ], latest, "No readings received yet."),
    ];
  });
  return card;
}
