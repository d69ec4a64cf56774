// Live updates: the WebSocket stream when the server has one, polling otherwise.

const POLL_MS = 5000;
const CONNECT_TIMEOUT_MS = 3000;

/** Calls `onChange` whenever something may have changed; returns a stop function. */
export function live(onChange) {
  let timer = null;
  let socket = null;
  let stopped = false;
  const poll = () => {
    if (!timer && !stopped) timer = setInterval(onChange, POLL_MS);
  };
  try {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/v1/stream`);
    const fallback = setTimeout(poll, CONNECT_TIMEOUT_MS);
    socket.addEventListener("open", () => clearTimeout(fallback));
    socket.addEventListener("message", () => onChange());
    socket.addEventListener("close", () => { clearTimeout(fallback); poll(); });
  } catch {
    poll();
  }
  return () => {
    stopped = true;
    clearInterval(timer);
    if (socket) socket.close();
  };
}
