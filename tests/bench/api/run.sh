#!/usr/bin/env bash
# API benchmark: figures, never a gate. In one run, on this machine:
#   1. pinbridge GET /greenpin/{id} under wrk (req/s, p50/p99),
#   2. pinbridge create+delete under wrk (durable writes per second),
#   3. baseline A: a bare libmicrohttpd server answering pinbridge's GET body
#      with the same thread count, same wrk parameters,
#   4. baseline B: LMDB's raw rate of one synced commit per write, on the same
#      filesystem as pinbridge's data dir, measured before and after the rest
#      (the better of the two is the baseline),
# then prints a table and the ratios the allocation issue targets.
#
# Usage: tests/bench/api/run.sh [BUILD_DIR]      (make bench)
# Environment: BENCH_SECONDS (10), BENCH_WRK_THREADS (2), BENCH_CONNECTIONS (64),
#   BENCH_HTTP_THREADS (default: pinbridge's embedded http.threads, 16; when
#   set, pinbridge runs with it from a config file; the baseline server always
#   uses the same count), BENCH_LMDB_SECONDS (5).
set -uo pipefail
exec </dev/null

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1
B=${1:-build}
SECS=${BENCH_SECONDS:-10}
WT=${BENCH_WRK_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
HT=${BENCH_HTTP_THREADS:-16}
LMDB_SECS=${BENCH_LMDB_SECONDS:-5}

# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_prepare api wrk curl gcc pkg-config meson ninja python3

echo "== building baselines"
cflags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror)
# shellcheck disable=SC2046
gcc "${cflags[@]}" -o "$work/baseline_mhd" "$here/baseline_mhd.c" \
	$(pkg-config --cflags --libs libmicrohttpd) || die "cannot build baseline_mhd"
# shellcheck disable=SC2046
gcc "${cflags[@]}" -o "$work/lmdb_commit" "$here/lmdb_commit.c" \
	$(pkg-config --cflags --libs lmdb) || die "cannot build lmdb_commit"

stop_pid() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# run_wrk NAME SCRIPT URL: prints wrk's output to $work/NAME.wrk
run_wrk() {
	BENCH_DIR=$here wrk -t"$WT" -c"$CONNS" -d"${SECS}s" --latency -s "$2" "$3" \
		>"$work/$1.wrk" 2>&1
	grep '^BENCH ' "$work/$1.wrk" | tail -n 1 | cut -d' ' -f2- >"$work/$1.res"
	[ -s "$work/$1.res" ] || {
		echo "bench: wrk run $1 produced no result:" >&2
		cat "$work/$1.wrk" >&2
	}
}

# field NAME KEY: a value from a run's result line
field() {
	tr ' ' '\n' <"$work/$1.res" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1
}

# lmdb_raw NAME: synced commits/s of LMDB on the data dir's filesystem.
lmdb_raw() {
	echo "== LMDB one synced commit per write ($1), ${LMDB_SECS}s" >&2
	rm -rf "$work/lmdb-$1"
	mkdir -p "$work/lmdb-$1"
	"$work/lmdb_commit" "$work/lmdb-$1" "$LMDB_SECS" >"$work/lmdb-$1.out" 2>&1 ||
		cat "$work/lmdb-$1.out" >&2
	sed -n 's/.* rate \([0-9]\+\).*/\1/p' "$work/lmdb-$1.out"
	rm -rf "$work/lmdb-$1"
}
raw_before=$(lmdb_raw before)

export BENCH_AUTH
BENCH_AUTH=$(printf 'demo-key:demo-token' | base64)
export BENCH_BASE=/v1/tenants/demo/greenpin

# --- 1 and 2: pinbridge ------------------------------------------------------
port=$(free_port)
sport=$(free_port)
mkdir -p "$work/data"
echo "== pinbridge on 127.0.0.1:$port (data $work/data)"
pbargs=(--data "$work/data" --http "127.0.0.1:$port" --sip "127.0.0.1:$sport")
if [ -n "${BENCH_HTTP_THREADS:-}" ]; then
	# Everything else stays the embedded default (tenant demo included).
	printf 'http = { threads = %d; };\n' "$HT" >"$work/pinbridge.conf"
	pbargs+=(--config "$work/pinbridge.conf")
fi
"$B/pinbridge" "${pbargs[@]}" >"$work/pinbridge.log" 2>&1 &
pb=$!
pids+=("$pb")
if ! wait_http "http://127.0.0.1:$port/healthz"; then
	cat "$work/pinbridge.log" >&2
	die "pinbridge did not answer /healthz"
fi
url="http://127.0.0.1:$port$BENCH_BASE"
curl -s -u demo-key:demo-token -H 'Content-Type: application/json' "$url" -d '{
  "transaction_id": "bench-get",
  "a": {"vns": ["6292134471", "6292134464"], "numbers": ["7987686144"], "pin": "123"},
  "b": {"vns": ["6292134465", "6292134464"], "numbers": ["9956555625"]},
  "usage": "twoway", "deallocation_policy": {"duration": "1d"}}' >"$work/create.json"
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["data"]["greenpin_id"])' \
	"$work/create.json" 2>/dev/null) || {
	cat "$work/create.json" >&2
	die "create failed"
}
curl -s -u demo-key:demo-token "$url/$id" >"$work/get-body.json"
body_len=$(stat -c %s "$work/get-body.json")
echo "   allocation $id, GET body $body_len bytes"

echo "== wrk GET by id: $WT threads, $CONNS connections, ${SECS}s"
run_wrk get "$here/get.lua" "$url/$id"
echo "== wrk create+delete: $WT threads, $CONNS connections, ${SECS}s"
run_wrk cd "$here/create_delete.lua" "$url"
stop_pid "$pb"

# --- 3: baseline libmicrohttpd server -----------------------------------------
bport=$(free_port)
echo "== baseline libmicrohttpd on 127.0.0.1:$bport, $HT threads, same body"
"$work/baseline_mhd" "$bport" "$HT" "$work/get-body.json" >"$work/baseline.log" 2>&1 &
bm=$!
pids+=("$bm")
wait_http "http://127.0.0.1:$bport/" || die "baseline server did not start"
run_wrk base "$here/get.lua" "http://127.0.0.1:$bport$BENCH_BASE/$id"
stop_pid "$bm"

# --- 4: LMDB one synced commit per write ---------------------------------------
raw_after=$(lmdb_raw after)
# The disk's sync rate drifts (other I/O on a shared machine): compare with
# the better of the two measurements, the stricter baseline.
raw=$(awk -v a="${raw_before:-0}" -v b="${raw_after:-0}" 'BEGIN { print (a > b ? a : b) }')

# --- table -----------------------------------------------------------------
ms() { awk -v u="${1:-0}" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
num() { awk -v n="${1:-0}" 'BEGIN { printf "%.0f", n }'; }
secs_cd=$(field cd seconds)
creates=$(field cd creates)
deletes=$(field cd deletes)
cps=$(awk -v c="${creates:-0}" -v s="${secs_cd:-1}" 'BEGIN { printf "%.0f", c / s }')
wps=$(awk -v c="${creates:-0}" -v d="${deletes:-0}" -v s="${secs_cd:-1}" \
	'BEGIN { printf "%.0f", (c + d) / s }')
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

fs=$(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }')
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
report() {
	echo "pinbridge API benchmark ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null))"
	echo "machine: $(nproc) cores ($cpu), data on $fs"
	echo "wrk: $WT threads, $CONNS connections, ${SECS}s per run; pinbridge and baseline: $HT HTTP threads"
	echo
	printf '%-38s %12s %10s %10s %8s\n' "run" "req/s" "p50" "p99" "non-2xx"
	printf '%-38s %12s %10s %10s %8s\n' "pinbridge GET /greenpin/{id}" "$(num "$(field get rps)")" \
		"$(ms "$(field get p50_us)")" "$(ms "$(field get p99_us)")" "$(field get bad_status)"
	printf '%-38s %12s %10s %10s %8s\n' "baseline MHD, fixed ${body_len}-byte body" \
		"$(num "$(field base rps)")" "$(ms "$(field base p50_us)")" "$(ms "$(field base p99_us)")" \
		"$(field base bad_status)"
	printf '%-38s %12s %10s %10s %8s\n' "pinbridge create+delete (all writes)" "$wps" \
		"$(ms "$(field cd p50_us)")" "$(ms "$(field cd p99_us)")" "$(field cd failures)"
	printf '%-38s %12s\n' "  of which creates" "$cps"
	printf '%-38s %12s   (before %s, after %s)\n' "LMDB raw synced commits (1 per write)" \
		"${raw:-n/a}" "${raw_before:-n/a}" "${raw_after:-n/a}"
	echo
	echo "GET vs baseline server:        $(ratio "$(field get rps)" "$(field base rps)")x (target >= 0.5x)"
	echo "durable creates/s:             $cps (target >= 2000/s)"
	echo "creates/s vs raw commits/s:    $(ratio "$cps" "$raw")x (target > 1x; all writes: $(ratio "$wps" "$raw")x)"
}
echo
# The table also lands in BUILD_DIR/bench-api.txt, for pasting into the README.
report | tee "$B/bench-api.txt"
