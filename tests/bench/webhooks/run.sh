#!/usr/bin/env bash
# Webhook benchmark: figures, never a gate (issue 3). In one run, on this machine,
# against one pinbridge whose tenant's deallocation URL is a local
# libmicrohttpd receiver (receiver_mhd.c) that notes when each event arrived:
#   1. live: N deallocations (default 10,000): CLIENTS Python threads each
#      create an allocation and DELETE it at once, the receiver answering 200
#      at once: events delivered per second, and the time from commit (the
#      DELETE's 200) to delivery (p50, p99, max);
#   2. backlog: the same N with the receiver holding every POST unanswered,
#      so the outbox backs up; then the receiver answers: how fast pinbridge
#      drains N queued events (delivery capacity, not bounded by the API).
#
# Usage: tests/bench/webhooks/run.sh [BUILD_DIR]      (make bench-webhooks)
# Environment: BENCH_EVENTS (10000), BENCH_CLIENTS (32, client threads),
#   BENCH_WEBHOOK_CONCURRENCY (8, webhooks.concurrency: the design's default),
#   BENCH_RX_THREADS (8, receiver threads), BENCH_DRAIN_TIMEOUT (120 s per phase).
set -uo pipefail
exec </dev/null

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1
B=${1:-build}
N=${BENCH_EVENTS:-10000}
CLIENTS=${BENCH_CLIENTS:-32}
CONC=${BENCH_WEBHOOK_CONCURRENCY:-8}
RXT=${BENCH_RX_THREADS:-8}
DRAIN=${BENCH_DRAIN_TIMEOUT:-120}

# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_prepare webhooks curl gcc pkg-config meson ninja python3

echo "== building the receiver"
# shellcheck disable=SC2046
gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$work/receiver_mhd" \
	"$here/receiver_mhd.c" $(pkg-config --cflags --libs libmicrohttpd) -lpthread ||
	die "cannot build receiver_mhd"

rport=$(free_port)
echo "== receiver on 127.0.0.1:$rport, $RXT threads"
"$work/receiver_mhd" "$rport" "$RXT" $((N * 2)) >"$work/receiver.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$rport/count" || die "receiver did not start"

# A tenant with 1,000 VNs (A PINs on, B off) and its deallocation URL on the
# receiver; everything else the embedded default (backoff 1 s, max_age 24 h).
vn_first=916292134400
vn_count=1000
cat >"$work/pinbridge.conf" <<EOF
sweep_interval = "200ms";
trunks = ( { name = "demo"; allow = ["127.0.0.0/8"]; outbound = "sip:127.0.0.1:5080";
             dial_format = "e164"; latch = "learn"; } );
tenants = ( {
  id = "bench"; api_key = "bench-key"; api_token = "bench-token";
  country = "91"; national_length = 10; countries = ["91"]; trunk = "demo";
  vns = ["+$vn_first-+$((vn_first + vn_count - 1))"];
  pin = { a = true; b = false; };
  webhooks = { secret = "bench-secret"; concurrency = $CONC;
               deallocation = "http://127.0.0.1:$rport/hooks/deallocation"; };
} );
EOF

port=$(free_port)
sport=$(free_port)
mkdir -p "$work/data"
echo "== pinbridge on 127.0.0.1:$port (data $work/data), webhooks.concurrency $CONC"
"$B/pinbridge" --config "$work/pinbridge.conf" --data "$work/data" --http "127.0.0.1:$port" \
	--sip "127.0.0.1:$sport" >"$work/pinbridge.log" 2>&1 &
pb=$!
pids+=("$pb")
if ! wait_http "http://127.0.0.1:$port/healthz"; then
	cat "$work/pinbridge.log" >&2
	die "pinbridge did not answer /healthz"
fi

load_rc=0
# phase MODE: runs load.py, its result line into $work/MODE.res
phase() {
	python3 "$here/load.py" "$1" "$port" "$rport" bench bench-key bench-token "$vn_first" \
		"$vn_count" "$N" "$CLIENTS" "$DRAIN" >"$work/$1.out" 2>"$work/$1.err" || load_rc=1
	[ -s "$work/$1.err" ] && cat "$work/$1.err" >&2
	grep '^BENCH ' "$work/$1.out" | tail -n 1 | cut -d' ' -f2- >"$work/$1.res"
	[ -s "$work/$1.res" ] || {
		cat "$work/$1.out" >&2
		die "the $1 load produced no result"
	}
}
echo "== live: $N create+DELETE pairs from $CLIENTS client threads, receiver answering at once"
phase live
echo "== backlog: $N more with the receiver holding every POST, then answering"
phase backlog
curl -s "http://127.0.0.1:$port/metrics" | grep '^pinbridge_webhook' >"$work/metrics.txt" || true

field() { tr ' ' '\n' <"$work/$1.res" | sed -n "s/^$2=//p" | head -n 1; }

fs=$(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }')
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
report() {
	echo "pinbridge webhook benchmark ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null))"
	echo "machine: $(nproc) cores ($cpu), data on $fs"
	echo "$N deallocations (create + DELETE) per phase from $CLIENTS client threads;"
	echo "webhooks.concurrency $CONC; receiver: libmicrohttpd, $RXT threads"
	local m
	for m in live backlog; do
		echo
		if [ "$m" = live ]; then
			echo "live (receiver answers 200 at once):"
		else
			echo "backlog (receiver held every POST during the load, then answered):"
		fi
		printf '  %-42s %s\n' "events committed / delivered / missing" \
			"$(field $m committed) / $(field $m delivered) / $(field $m missing) (duplicates $(field $m duplicates), API failures $(field $m failures))"
		printf '  %-42s %s s (%s DELETEs/s with their creates)\n' "API phase" "$(field $m api_seconds)" \
			"$(field $m deletes_per_s)"
		if [ "$m" = live ]; then
			printf '  %-42s %s /s (first commit to last delivery: %s s)\n' \
				"events delivered per second" "$(field $m delivered_per_s)" "$(field $m window_seconds)"
			printf '  %-42s p50 %s ms, p99 %s ms, max %s ms\n' "commit (DELETE 200) to delivery" \
				"$(field $m p50_ms)" "$(field $m p99_ms)" "$(field $m max_ms)"
		else
			printf '  %-42s %s /s (release to last delivery: %s s)\n' \
				"queued events drained per second" "$(field $m delivered_per_s)" "$(field $m window_seconds)"
		fi
	done
	if [ -s "$work/metrics.txt" ]; then
		echo
		echo "pinbridge /metrics afterwards:"
		grep -v '_bucket' "$work/metrics.txt" | sed 's/^/  /'
	fi
}
echo
# The table also lands in BUILD_DIR/bench-webhooks.txt, for pasting into the README.
report | tee "$B/bench-webhooks.txt"
[ "$load_rc" -eq 0 ] || echo "bench: not every committed event arrived within ${DRAIN}s" >&2
exit 0
