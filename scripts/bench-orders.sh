#!/usr/bin/env bash
# Durable order throughput: wrk posts limit orders (many accounts, many keys) to a release
# `sunmesh serve` with its journal on SQLite, then on PostgreSQL (TEST_DATABASE_URL, a fresh
# schema), and measures a trivial endpoint (GET /healthz) of the same server with the same
# load for the ratio. Every 201 means the order was journaled and committed before the answer.
#
#   scripts/bench-orders.sh                 # SQLite, and PostgreSQL if TEST_DATABASE_URL is set
#   BENCH_DURATION=20s BENCH_CONNECTIONS=128 scripts/bench-orders.sh
#
# Orders are buys at 50 prices over 8 slots, so they rest (no matching): what is measured is
# the HTTP + auth + engine + group-commit path, which every order pays.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ACCOUNTS=${BENCH_ACCOUNTS:-32}
PORT=${BENCH_PORT:-18080}

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get install -y wrk >/dev/null
fi
cargo build --release -p platform --bin sunmesh >&2
BIN="${CARGO_TARGET_DIR:-target}/release/sunmesh"
WORK=$(mktemp -d)
SERVER_PID=""
PG_SCHEMA=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    if [ -n "$PG_SCHEMA" ]; then
        psql "$TEST_DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# bench <label> <database>
bench() {
    local label=$1 db=$2
    cat >"$WORK/serve.toml" <<TOML
listen = "127.0.0.1:$PORT"
[api]
requests_per_second_per_key = 10000000
burst_per_key = 10000000
TOML
    local admin
    admin=$("$BIN" --database "$db" account add --name admin --role admin | sed -n 's/^api key (shown once): //p')
    : >"$WORK/keys"
    : >"$WORK/ids"
    for i in $(seq 1 "$ACCOUNTS"); do
        "$BIN" --database "$db" account add --name "trader$i" --role consumer >"$WORK/out"
        sed -n 's/^api key (shown once): //p' "$WORK/out" >>"$WORK/keys"
        sed -n 's/.*(id \([0-9]*\)).*/\1/p' "$WORK/out" >>"$WORK/ids"
    done
    RUST_LOG=${BENCH_RUST_LOG:-warn} "$BIN" --database "$db" serve --config "$WORK/serve.toml" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
        sleep 0.1
    done
    while read -r id; do
        curl -sf -X POST "http://127.0.0.1:$PORT/v1/admin/deposits" \
            -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
            -d "{\"account_id\": $id, \"amount_micro\": 100000000000000}" >/dev/null
    done <"$WORK/ids"
    local now slot0
    now=$(date +%s%3N)
    slot0=$(( (now / 900000 + 8) * 900000 ))
    {
        echo "local keys = {"
        sed 's/.*/"&",/' "$WORK/keys"
        echo "}"
        echo "local slot0 = $slot0"
        cat <<'LUA'
local next_thread = 0
local threads = {}
function setup(thread)
    thread:set("tid", next_thread)
    next_thread = next_thread + 1
    table.insert(threads, thread)
end
counter = 0
non201 = 0
function request()
    counter = counter + 1
    local n = counter
    local key = keys[(n + tid * 7) % #keys + 1]
    local body = string.format(
        '{"client_order_id":%d,"zone":"default","slot_start_ms":%d,"side":"buy","type":"limit","price_micro_per_kwh":%d,"qty_wh":%d}',
        tid * 1000000000 + n, slot0 + (n % 8) * 900000, 100 * (1 + n % 50), 1 + n % 10)
    return wrk.format("POST", "/v1/orders",
        {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
    if status ~= 201 then non201 = non201 + 1 end
end
function done(summary, latency, requests)
    local bad = 0
    for _, t in ipairs(threads) do bad = bad + t:get("non201") end
    io.write(string.format("non-201 answers: %d of %d\n", bad, summary.requests))
end
LUA
    } >"$WORK/orders.lua"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/orders.lua" \
        "http://127.0.0.1:$PORT" >"$WORK/orders.out"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        "http://127.0.0.1:$PORT/healthz" >"$WORK/trivial.out"
    local engine
    engine=$(curl -sf "http://127.0.0.1:$PORT/v1/admin/engine" -H "Authorization: Bearer $admin")
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    [ -n "${BENCH_KEEP_LOG:-}" ] && cp "$WORK/server.log" "${BENCH_KEEP_LOG}-$label.log"
    SERVER_PID=""

    local rate p50 p99 trivial bad
    rate=$(awk '/^Requests\/sec/ {print $2}' "$WORK/orders.out")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/orders.out")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/orders.out")
    trivial=$(awk '/^Requests\/sec/ {print $2}' "$WORK/trivial.out")
    bad=$(grep '^non-201' "$WORK/orders.out" || true)
    echo "$label: POST /v1/orders durable: $rate orders/s, p50 $p50, p99 $p99 ($bad; $CONNECTIONS connections, $THREADS wrk threads, $ACCOUNTS accounts, $DURATION)"
    echo "$label: GET /healthz same server: $trivial req/s, p50 $(awk '$1 == "50%" {print $2}' "$WORK/trivial.out"), p99 $(awk '$1 == "99%" {print $2}' "$WORK/trivial.out")"
    echo "$label: ratio orders/trivial: $(awk -v a="$rate" -v b="$trivial" 'BEGIN {printf "%.2f", a / b}')"
    echo "$label: engine after the run: $engine"
}

bench sqlite "$WORK/bench.db"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
    PG_SCHEMA="sunmesh_bench_$$"
    psql "$TEST_DATABASE_URL" -qc "CREATE SCHEMA $PG_SCHEMA" >/dev/null
    sep='?'
    case "$TEST_DATABASE_URL" in *\?*) sep='&' ;; esac
    bench postgres "${TEST_DATABASE_URL}${sep}options=-csearch_path%3D$PG_SCHEMA"
else
    echo "postgres: skipped (TEST_DATABASE_URL is not set)"
fi
