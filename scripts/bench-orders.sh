#!/usr/bin/env bash
# Durable order throughput: wrk posts limit orders (many accounts, many keys) to a release
# `sunmesh serve` with its journal on SQLite, then on PostgreSQL (TEST_DATABASE_URL, a fresh
# schema), and measures a trivial endpoint (GET /healthz) of the same server with the same
# load for the ratio. Every 201 means the order was journaled and committed before the answer.
#
#   scripts/bench-orders.sh                 # SQLite, and PostgreSQL if TEST_DATABASE_URL is set
#   BENCH_DURATION=20s BENCH_CONNECTIONS=128 scripts/bench-orders.sh
#   BENCH_WRK_CPUS=1 scripts/bench-orders.sh   # pin wrk to CPU 1 (taskset), the server floats
#   BENCH_PERF=/tmp/prof scripts/bench-orders.sh   # perf record the server during the order run
#   BENCH_NICE=-10 scripts/bench-orders.sh     # server and wrk at this nice level (root): on a
#                                              # machine shared with builds, they get the CPU first
#
# Besides the rates it prints where the CPU went during the order run (server threads, wrk,
# everything else on the machine), the group commits per second (one fsync each on SQLite, one
# COMMIT on PostgreSQL) with their mean size and duration, and the bytes the server wrote per
# order: wrk shares the machine with the server, so these say what limits the figure.
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
WRK_CPUS=${BENCH_WRK_CPUS:-}
HZ=$(getconf CLK_TCK)

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

# CPU ticks (user + system) of a process: fields 14 and 15 of /proc/PID/stat, counted after
# the command name, which may contain spaces.
ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# "name ticks" per thread of a process, summed by thread name.
thread_ticks() {
    for t in /proc/"$1"/task/*; do
        printf '%s %s\n' "$(tr ' ' '_' <"$t/comm")" "$(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
    done | awk '{s[$1] += $2} END {for (n in s) print n, s[n]}' | sort
}

# Busy ticks of the whole machine (all CPUs, everything but idle and iowait).
machine_ticks() {
    awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

# The sum of a Prometheus metric's samples whose name is exactly $2 (labels ignored).
metric() {
    awk -v name="$2" '$1 == name || index($1, name "{") == 1 {s += $NF} END {printf "%.6f\n", s}' "$1"
}

# Bytes written to disk by the server, and on PostgreSQL by every postgres process (the
# server's WAL and data files; other clients of that server count too).
disk_bytes() {
    local pids=$SERVER_PID
    if [ "$1" = postgres ]; then
        pids="$pids $(pgrep -x postgres | tr '\n' ' ')"
    fi
    for p in $pids; do
        awk '/^write_bytes/ {print $2}' "/proc/$p/io" 2>/dev/null || true
    done | awk '{s += $1} END {printf "%.0f\n", s}'
}

# CPU ticks of every postgres process (the database server's share of the machine).
postgres_ticks() {
    for p in $(pgrep -x postgres); do
        ticks "$p" 2>/dev/null || true
    done | awk '{s += $1} END {printf "%.0f\n", s}'
}

NICE=()
if [ -n "${BENCH_NICE:-}" ]; then
    NICE=(nice -n "$BENCH_NICE")
fi
PIN=("${NICE[@]}")
if [ -n "$WRK_CPUS" ]; then
    PIN+=(taskset -c "$WRK_CPUS")
fi

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
    RUST_LOG=${BENCH_RUST_LOG:-warn} "${NICE[@]}" "$BIN" --database "$db" serve --config "$WORK/serve.toml" >"$WORK/server.log" 2>&1 &
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
    local perf_pid=""
    if [ -n "${BENCH_PERF:-}" ]; then
        perf record -F 499 --call-graph dwarf,16384 -p "$SERVER_PID" -o "${BENCH_PERF}-$label.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.before"
    thread_ticks "$SERVER_PID" >"$WORK/threads.before"
    local server0 machine0 io0 t0 pg0
    server0=$(ticks "$SERVER_PID")
    pg0=$(postgres_ticks)
    machine0=$(machine_ticks)
    io0=$(disk_bytes "$label")
    t0=$(date +%s%N)
    # GNU time reports wrk's own CPU seconds (user, system).
    /usr/bin/time -f '%U %S' -o "$WORK/wrk.time" \
        "${PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/orders.lua" \
        "http://127.0.0.1:$PORT" >"$WORK/orders.out"
    local wrk_ticks
    wrk_ticks=$(awk -v hz="$HZ" 'END {printf "%.0f", ($1 + $2) * hz}' "$WORK/wrk.time")
    local server1 machine1 io1 t1 pg1
    t1=$(date +%s%N)
    server1=$(ticks "$SERVER_PID")
    pg1=$(postgres_ticks)
    machine1=$(machine_ticks)
    io1=$(disk_bytes "$label")
    thread_ticks "$SERVER_PID" >"$WORK/threads.after"
    curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.after"
    local wal_mb="-"
    if [ -f "$db-wal" ]; then
        wal_mb=$(awk -v b="$(stat -c %s "$db-wal")" 'BEGIN {printf "%.0f MB", b / 1e6}')
    fi
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
    fi
    "${PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
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
    local secs groups commands commit_s orders
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')
    orders=$(awk '/requests in/ {print $1}' "$WORK/orders.out")
    groups=$(awk -v a="$(metric "$WORK/metrics.before" sunmesh_trading_commit_seconds_count)" \
        -v b="$(metric "$WORK/metrics.after" sunmesh_trading_commit_seconds_count)" 'BEGIN {print b - a}')
    commands=$(awk -v a="$(metric "$WORK/metrics.before" sunmesh_trading_group_commands_sum)" \
        -v b="$(metric "$WORK/metrics.after" sunmesh_trading_group_commands_sum)" 'BEGIN {print b - a}')
    commit_s=$(awk -v a="$(metric "$WORK/metrics.before" sunmesh_trading_commit_seconds_sum)" \
        -v b="$(metric "$WORK/metrics.after" sunmesh_trading_commit_seconds_sum)" 'BEGIN {print b - a}')
    local cpus
    cpus=$(nproc)
    echo "$label: CPU during the order run, % of one core ($cpus cores = $((cpus * 100))%):" \
        "server $(awk -v t=$((server1 - server0)) -v s="$secs" -v hz="$HZ" 'BEGIN {printf "%.0f", 100 * t / hz / s}')" \
        "[$(join -a1 -e0 -o0,1.2,2.2 "$WORK/threads.before" "$WORK/threads.after" \
            | awk -v s="$secs" -v hz="$HZ" '{d = $3 - $2; if (d > 0) printf "%s%s %.0f", sep, $1, 100 * d / hz / s; sep = ", "}')]," \
        "wrk $(awk -v t="$wrk_ticks" -v s="$secs" -v hz="$HZ" 'BEGIN {printf "%.0f", 100 * t / hz / s}')" \
        "(pinned to CPU ${WRK_CPUS:-none}; nice ${BENCH_NICE:-0}), postgres $(awk -v t=$((pg1 - pg0)) -v s="$secs" -v hz="$HZ" 'BEGIN {printf "%.0f", 100 * t / hz / s}')," \
        "rest of the machine $(awk -v m=$((machine1 - machine0)) -v sv=$((server1 - server0)) -v w="$wrk_ticks" -v pg=$((pg1 - pg0)) -v s="$secs" -v hz="$HZ" \
            'BEGIN {r = m - sv - w - pg; if (r < 0) r = 0; printf "%.0f", 100 * r / hz / s}')"
    echo "$label: CPU per order: server $(awk -v t=$((server1 - server0)) -v o="$orders" -v hz="$HZ" 'BEGIN {printf "%.0f", 1e6 * t / hz / o}') us" \
        "[$(join -a1 -e0 -o0,1.2,2.2 "$WORK/threads.before" "$WORK/threads.after" \
            | awk -v o="$orders" -v hz="$HZ" '{d = $3 - $2; if (d > 0) printf "%s%s %.0f", sep, $1, 1e6 * d / hz / o; sep = ", "}')]," \
        "wrk $(awk -v t="$wrk_ticks" -v o="$orders" -v hz="$HZ" 'BEGIN {printf "%.0f", 1e6 * t / hz / o}') us"
    # Commits slower than 10 ms and 20 ms during the run, from the histogram's cumulative buckets.
    local slow
    slow=$(for le in 0.01 0.02; do
        awk -v le="$le" 'index($1, "sunmesh_trading_commit_seconds_bucket{le=\"" le "\"}") == 1 {print $2}' "$WORK/metrics.before" "$WORK/metrics.after" \
            | awk -v le="$le" -v g="$groups" 'NR == 1 {a = $1} NR == 2 {n = g - ($1 - a); printf "%s %.1f%% of commits over %.0f ms", (le == "0.01" ? "" : ","), g ? 100 * n / g : 0, le * 1000}'
    done)
    echo "$label: group commits: $(awk -v g="$groups" -v s="$secs" 'BEGIN {printf "%.0f", g / s}')/s" \
        "(each one fsync/COMMIT), $(awk -v c="$commands" -v g="$groups" 'BEGIN {printf "%.1f", g ? c / g : 0}') commands per group," \
        "commit $(awk -v c="$commit_s" -v g="$groups" 'BEGIN {printf "%.2f", g ? 1000 * c / g : 0}') ms mean,$slow;" \
        "$label wrote $(awk -v b=$((io1 - io0)) -v o="$orders" 'BEGIN {printf "%.0f", o ? b / o : 0}') bytes per order to disk" \
        "($(awk -v b=$((io1 - io0)) -v s="$secs" 'BEGIN {printf "%.1f", b / s / 1e6}') MB/s; WAL file $wal_mb)"
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
