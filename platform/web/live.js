// Live updates. The page listens on the WebSocket stream (/v1/stream) and refreshes when a
// change is committed (a book, a trade, one of your orders), at most once a second. A
// browser's WebSocket cannot send the Authorization header, so the page first asks for a
// one-time ticket with its key and opens the stream with that; the key never goes into a URL.
// A slow poll covers what the stream does not carry (settlement, readings). While the stream
// is down the page polls every few seconds and reopens the stream after growing pauses.
// `document.body.dataset.live` says which of the two is in use ("stream" once the page has
// caught up with what happened before the stream opened). Nothing refreshes while the
// tab is hidden; showing it again refreshes at once.

import { api } from "./api.js";

const POLL_MS = 5000;
const POLL_WITH_STREAM_MS = 60000;
const MIN_REFRESH_GAP_MS = 1000;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;

/** Calls `onChange` when something may have changed; returns a stop function. */
export function live(onChange) {
  let stopped = false;
  let socket = null;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer = null;
  let refreshTimer = null;
  let lastRefresh = Date.now();
  const visible = () => document.visibilityState === "visible";
  const streaming = () => socket !== null && socket.readyState === WebSocket.OPEN;
  const mode = (name) => { document.body.dataset.live = name; };

  // Coalesces bursts of stream messages into one refresh.
  function refreshSoon() {
    if (stopped || refreshTimer !== null || !visible()) return;
    const wait = Math.max(0, lastRefresh + MIN_REFRESH_GAP_MS - Date.now());
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      lastRefresh = Date.now();
      if (!stopped && visible()) onChange();
    }, wait);
  }

  const poller = setInterval(() => {
    const every = streaming() ? POLL_WITH_STREAM_MS : POLL_MS;
    if (Date.now() - lastRefresh >= every) refreshSoon();
  }, 1000);
  const onVisibility = () => { if (visible()) refreshSoon(); };
  document.addEventListener("visibilitychange", onVisibility);

  function reopenLater() {
    socket = null;
    if (stopped) return;
    mode("polling");
    retryTimer = setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  }

  async function open() {
    retryTimer = null;
    let ticket;
    try {
      ticket = (await api("/v1/stream/tickets", { method: "POST" })).ticket;
    } catch {
      reopenLater();
      return;
    }
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/v1/stream?ticket=${encodeURIComponent(ticket)}`);
    socket = ws;
    ws.onopen = async () => {
      retryMs = FIRST_RETRY_MS;
      // Catch up on what changed before the stream opened; from then on the stream tells.
      lastRefresh = Date.now();
      try { await onChange(); } catch { /* the view shows its own errors */ }
      if (socket === ws && ws.readyState === WebSocket.OPEN) mode("stream");
    };
    ws.onmessage = refreshSoon;
    ws.onclose = () => { if (socket === ws) reopenLater(); };
  }

  mode("polling");
  open();
  return () => {
    stopped = true;
    clearInterval(poller);
    clearTimeout(retryTimer);
    clearTimeout(refreshTimer);
    document.removeEventListener("visibilitychange", onVisibility);
    if (socket) socket.close();
    socket = null;
    delete document.body.dataset.live;
  };
}
