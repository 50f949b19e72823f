#!/usr/bin/env bash
# Call-rate benchmark: figures, never a gate (issue 6, benchmark 1). In one run,
# on this machine:
#   1. pinbridge: a SIPp caller on 127.0.0.2 places short direct calls (A calls
#      the VN, pinbridge dials B through the trunk, a SIPp callee on 127.0.0.3
#      answers at once; the caller hangs up after HOLD ms), the rate stepped up
#      (RATES, STEP seconds each) until more than 0.1 % of a step's calls fail;
#      per step: attempted, succeeded, failed, failure %, setup time (INVITE
#      sent -> 200 received, SIPp's response-time trace) p50/p99, and
#      pinbridge's CPU time per call;
#   2. baseline: the same caller straight against the same callee (no
#      pinbridge) at the same rates, so the ratio shows what pinbridge costs;
# then the highest rate with < 0.1 % failures for each, pinbridge's CPU time
# per call over the run and its peak RSS.
#
# Usage: tests/bench/sip/run.sh [BUILD_DIR]      (make bench-calls)
# Environment: BENCH_RATES ("50 100 200 250 300 400 600"), BENCH_STEP_SECONDS (10),
#   BENCH_HOLD_MS (1000), BENCH_ALLOCATIONS (3000), BENCH_CALL_LIMIT (-l, 5000).
set -uo pipefail
exec </dev/null

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1
B=${1:-build}
RATES=${BENCH_RATES:-50 100 200 250 300 400 600}
STEP=${BENCH_STEP_SECONDS:-10}
HOLD=${BENCH_HOLD_MS:-1000}
NALLOC=${BENCH_ALLOCATIONS:-3000}
LIMIT=${BENCH_CALL_LIMIT:-5000}
CALLER_IP=127.0.0.2
CALLEE_IP=127.0.0.3

# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_prepare calls sipp curl meson ninja python3

sed "s/HOLD_MS/$HOLD/" "$here/uac.xml" >"$work/uac.xml"
cp "$here/uas.xml" "$work/uas.xml"
echo "SEQUENTIAL" >"$work/uas.csv"
echo "4002;" >>"$work/uas.csv"

# --- the callee, shared by both runs ---------------------------------------------
uport=$(free_udp_on $CALLEE_IP)
(cd "$work" && exec sipp -sf uas.xml -inf uas.csv -i $CALLEE_IP -p "$uport" -t u1 -nostdin \
	-recv_timeout 60000 -trace_err -error_file "$work/uas.errors" >"$work/uas.out" 2>&1) &
pids+=($!)

# --- pinbridge ----------------------------------------------------------------
vn_first=917400000000
vn_count=1000
cat >"$work/pinbridge.conf" <<EOC
sweep_interval = "1s";
store = { map_size = "1G"; };
media = { port_min = 20000; port_max = 59999; port_quarantine = "500ms"; };
trunks = ( { name = "bench"; allow = ["$CALLER_IP/32", "$CALLEE_IP/32"];
             outbound = "sip:$CALLEE_IP:$uport"; dial_format = "e164"; latch = "learn"; } );
tenants = ( {
  id = "bench"; api_key = "bench-key"; api_token = "bench-token";
  country = "91"; national_length = 10; countries = ["91"]; trunk = "bench";
  vns = ["+$vn_first-+$((vn_first + vn_count - 1))"];
  pin = { a = false; b = false; };
  ring_timeout = "10s"; max_hunt = "20s"; rtp_timeout = "300s";
} );
EOC
pb_start
echo "== pinbridge on 127.0.0.1 (http $port, sip $sport), callee SIPp on $CALLEE_IP:$uport"
echo "== creating $NALLOC direct allocations"
python3 "$here/bench.py" alloc "$port" bench bench-key bench-token "$vn_first" "$vn_count" \
	"$NALLOC" "$work/calls.csv" || die "creating allocations failed"

# step NAME RATE TARGET: one SIPp caller run of RATE calls/s for STEP
# seconds against TARGET; its result line lands in $work/NAME-RATE.res
step() {
	local name=$1 rate=$2 target=$3 n d cport
	n=$((rate * STEP))
	d="$work/$name-$rate"
	mkdir -p "$d"
	cp "$work/uac.xml" "$work/calls.csv" "$d/"
	cport=$(free_udp_on $CALLER_IP)
	(cd "$d" && exec sipp "$target" -sf uac.xml -inf calls.csv -i $CALLER_IP -p "$cport" -t u1 \
		-r "$rate" -m "$n" -l "$LIMIT" -nostdin -recv_timeout 10000 -timeout $((STEP * 3 + 30))s \
		-trace_rtt -rtt_freq 1 -trace_stat -fd 1 -stf stat.csv \
		-trace_err -error_file errors.log >sipp.out 2>&1)
	local st rt
	st=$(python3 "$here/bench.py" stat "$d/stat.csv" 2>/dev/null || echo "created=0 succeeded=0 failed=0")
	rt=$(python3 "$here/bench.py" rtt "$d"/*_rtt.csv 2>/dev/null || echo "n=0")
	echo "$st $rt" >"$work/$name-$rate.res"
}
field() { tr ' ' '\n' <"$work/$1.res" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1; }
failpct() { awk -v c="$(field "$1" created)" -v f="$(field "$1" failed)" -v s="$(field "$1" succeeded)" \
	'BEGIN { a = (s + f > c ? s + f : c); if (a > 0) printf "%.2f", 100 * (a - s) / a; else print "100" }'; }
ok_step() { awk -v p="$(failpct "$1")" 'BEGIN { exit !(p < 0.1) }'; }

# run NAME TARGET: steps up the rates; lists the rates run in $work/NAME.rates
run() {
	local name=$1 target=$2 r t0 t1
	: >"$work/$name.rates"
	for r in $RATES; do
		t0=$(cpu_ticks "$pb")
		step "$name" "$r" "$target"
		t1=$(cpu_ticks "$pb")
		echo "cpu_ticks=$((t1 - t0))" >>"$work/$name-$r.res"
		echo "$r" >>"$work/$name.rates"
		printf '   %-9s %4d calls/s: %s\n' "$name" "$r" "$(tr '\n' ' ' <"$work/$name-$r.res")"
		ok_step "$name-$r" || break
	done
}

echo "== baseline: SIPp caller -> SIPp callee directly, rates: $RATES (${STEP}s each, hold ${HOLD} ms)"
run baseline "$CALLEE_IP:$uport"
echo "== pinbridge: SIPp caller -> pinbridge -> SIPp callee, same rates"
cpu0=$(cpu_ticks "$pb")
run pinbridge "127.0.0.1:$sport"
cpu1=$(cpu_ticks "$pb")
hwm=$(sed -n 's/^VmHWM:\s*//p' "/proc/$pb/status")
rss=$(sed -n 's/^VmRSS:\s*//p' "/proc/$pb/status")
sleep 1
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^pinbridge_(calls_total|calls_active|media_port_pairs)' \
	>"$work/metrics.txt" || true
alive=yes
kill -0 "$pb" 2>/dev/null || alive=no

max_ok() { # max_ok NAME [P99_MS]: the highest rate with < 0.1 % failures (and setup p99 < P99_MS)
	local r m=0
	while read -r r; do
		ok_step "$1-$r" || continue
		[ -z "${2:-}" ] || awk -v p="$(field "$1-$r" p99_ms)" -v l="$2" 'BEGIN { exit !(p < l) }' || continue
		m=$r
	done <"$work/$1.rates"
	echo "$m"
}

cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
report() {
	echo "pinbridge call-rate benchmark ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null))"
	echo "binary: $B/pinbridge ($(date -u -r "$B/pinbridge" '+built %Y-%m-%d %H:%M UTC'); the commit above is the tree's HEAD)"
	echo "machine: $(nproc) cores ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "direct calls (no PIN), ${STEP}s per step, hold ${HOLD} ms, SIPp -l $LIMIT; caller $CALLER_IP, callee $CALLEE_IP"
	echo "setup = INVITE sent -> 200 received at the caller (SIPp's response-time trace, whole ms, ticks of about 4 ms);"
	echo "retrans = SIPp's retransmissions (a request or response lost or answered after 500 ms);"
	echo "run s = the caller SIPp's run time (STEP s of new calls, then the last ones' hold and set-up)"
	echo
	printf '%-10s %7s %9s %9s %7s %8s %10s %10s %8s %8s %10s\n' run calls/s attempted succeeded failed "fail %" \
		"setup p50" "setup p99" "retrans" "run s" "CPU/call"
	local name r res cpc
	for name in baseline pinbridge; do
		while read -r r; do
			res="$name-$r"
			cpc=""
			if [ "$name" = pinbridge ]; then
				cpc=$(awk -v t="$(field "$res" cpu_ticks)" -v k="$tck" -v s="$(field "$res" succeeded)" \
					'BEGIN { if (s > 0) printf "%.0f us", 1e6 * t / k / s; else print "n/a" }')
			fi
			printf '%-10s %7s %9s %9s %7s %8s %10s %10s %8s %8s %10s\n' "$name" "$r" "$(field "$res" created)" \
				"$(field "$res" succeeded)" "$(field "$res" failed)" "$(failpct "$res")" \
				"$(field "$res" p50_ms) ms" "$(field "$res" p99_ms) ms" "$(field "$res" retrans)" \
				"$(field "$res" elapsed)" "${cpc:--}"
		done <"$work/$name.rates"
	done
	local mb mp tot
	mb=$(max_ok baseline)
	mp=$(max_ok pinbridge)
	tot=0
	while read -r r; do tot=$((tot + $(field "pinbridge-$r" succeeded))); done <"$work/pinbridge.rates"
	echo
	echo "max calls/s at < 0.1 % failures: pinbridge $mp, baseline (SIPp to SIPp) $mb (of the rates tried)"
	echo "  ... with setup p99 < 1 s too:  pinbridge $(max_ok pinbridge 1000), baseline $(max_ok baseline 1000)"
	echo "pinbridge vs baseline:          $(awk -v a="$mp" -v b="$mb" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }') (target >= 300 calls/s)"
	echo "pinbridge CPU time per call:    $(awk -v t="$((cpu1 - cpu0))" -v k="$tck" -v s="$tot" \
		'BEGIN { if (s > 0) printf "%.0f us (%.1f s over %d calls)", 1e6 * t / k / s, t / k, s; else print "n/a" }')"
	echo "pinbridge RSS:                  peak $hwm, at the end $rss; still running: $alive"
	if [ -s "$work/metrics.txt" ]; then
		echo
		echo "pinbridge /metrics afterwards:"
		sed 's/^/  /' "$work/metrics.txt"
	fi
}
echo
# The table also lands in BUILD_DIR/bench-calls.txt, for pasting into the README.
report | tee "$B/bench-calls.txt"
pb_crash_report
if [ -n "${BENCH_KEEP:-}" ]; then
	rm -rf "$B/bench-calls-work"
	cp -r "$work" "$B/bench-calls-work" && echo "work dir kept in $B/bench-calls-work" >&2
fi
exit 0
