// Live updates by polling. The WebSocket stream (/v1/stream) authenticates with an
// Authorization header on the upgrade request, which a browser's WebSocket cannot send, so the
// page polls instead; polling pauses while the tab is hidden.

const POLL_MS = 5000;

/** Calls `onChange` every few seconds while the page is visible; returns a stop function. */
export function live(onChange) {
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") onChange();
  }, POLL_MS);
  return () => clearInterval(timer);
}
