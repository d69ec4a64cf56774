#!/usr/bin/env bash
# Footprint benchmark (not a test): runs the release agent against the simulator at 1 s
# polling for DURATION seconds (default 60) with an HTTP uplink to a tiny local receiver, then
# prints peak RSS, CPU % of one core and the stripped binary size.
# Targets (issue 3): RSS <= 15 MB, CPU <= 1 %, binary <= 8 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-60}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -p meter-agent >&2
BIN="$TARGET_DIR/release/meter-agent"
WORK="$(mktemp -d)"
cleanup() { kill "${AGENT_PID:-}" "${SIM_PID:-}" "${RX_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cp "$BIN" "$WORK/meter-agent"
strip "$WORK/meter-agent"
SIZE=$(stat -c %s "$WORK/meter-agent")

SIM_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
RX_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$BIN" simulate --listen "127.0.0.1:$SIM_PORT" >/dev/null 2>&1 &
SIM_PID=$!

# the platform stand-in: accepts every reading of a batch
cat > "$WORK/rx.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        res = [{"sequence": r["sequence"], "status": "accepted"} for r in body["readings"]]
        out = json.dumps({"results": res}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$WORK/rx.py" "$RX_PORT" &
RX_PID=$!

cat > "$WORK/agent.toml" <<TOML
data_dir = "$WORK/data"
poll_interval_s = 1
[site]
latitude = 52.52
longitude = 13.40
zone = "BENCH"
[uplink]
kind = "http"
url = "http://127.0.0.1:$RX_PORT"
[[source]]
name = "roof"
kind = "sunspec"
url = "tcp://127.0.0.1:$SIM_PORT"
nameplate_w = 5000
TOML
sleep 0.5
"$BIN" keygen --config "$WORK/agent.toml" >/dev/null
RUST_LOG=warn "$WORK/meter-agent" run --config "$WORK/agent.toml" 2>"$WORK/agent.log" &
AGENT_PID=$!
TICKS=$(getconf CLK_TCK)
sleep "$DURATION"
read -r -a STAT < "/proc/$AGENT_PID/stat"
CPU_TICKS=$(( STAT[13] + STAT[14] ))
PEAK_KB=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
TAKEN=$(ls "$WORK/data/roof/spool" >/dev/null 2>&1 && python3 - "$WORK/data/roof/spool/acked" <<'PY'
import struct, sys
try: print(struct.unpack("<Q", open(sys.argv[1], "rb").read()[:8])[0])
except Exception: print(0)
PY
)
echo "duration: ${DURATION} s at 1 s polling, readings acknowledged: ${TAKEN}"
echo "peak RSS: $(awk "BEGIN {printf \"%.1f\", $PEAK_KB/1024}") MB (target <= 15 MB)"
echo "CPU: $(awk "BEGIN {printf \"%.2f\", 100*$CPU_TICKS/$TICKS/$DURATION}") % of one core (target <= 1 %)"
echo "stripped binary: $(awk "BEGIN {printf \"%.2f\", $SIZE/1048576}") MB (target <= 8 MB)"
