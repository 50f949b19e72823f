#!/usr/bin/env bash
# Concurrency benchmark: figures, never a gate (issue 6, benchmark 3). For each
# N in CALLS, on this machine, in one run:
#   1. baseline: relay.c, a minimal one-thread recvmmsg/sendmmsg UDP relay,
#      moves the packets of N calls between the same generator sockets;
#   2. pinbridge: a SIPp caller (127.0.0.2) sets up N direct calls through
#      pinbridge at SETUP_RATE calls/s to a SIPp callee (127.0.0.3), every
#      call's SDP naming the generator's one socket on that side (injection
#      files; one socket a side lets the generator batch, see rtpgen.c, and
#      pinbridge still has its own ports per leg); the SDP addresses
#      pinbridge put in the 200 (caller side) and in its INVITE (callee side)
#      are logged by the scenarios; then rtpgen.c sends 20 ms G.711 both ways
#      on every call for MEDIA seconds and counts what arrives;
# and prints per N: packets/s relayed, loss, added jitter (RFC 3550
# interarrival jitter of the transit times), transit p50/p99, CPU per call (%
# of a core), memory per call (RSS delta / N), and packets per CPU-second of
# pinbridge against the baseline (target >= 0.7x; zero loss at 1,000 calls).
#
# Usage: tests/bench/sip/concurrency.sh [BUILD_DIR]      (make bench-calls)
# Environment: BENCH_CALLS ("500 1000 2000"), BENCH_MEDIA_SECONDS (20),
#   BENCH_SETUP_RATE (100 calls/s).
set -uo pipefail
exec </dev/null

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1
B=${1:-build}
CALLS=${BENCH_CALLS:-500 1000 2000}
MEDIA=${BENCH_MEDIA_SECONDS:-20}
RATE=${BENCH_SETUP_RATE:-100}
CALLER_IP=127.0.0.2
CALLEE_IP=127.0.0.3
PORT0=10000 # the generator's port on both addresses; baseline relay: PORT0 + 4i (+2) on 127.0.0.1

# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_prepare conc sipp curl gcc meson ninja python3

maxn=0
for n in $CALLS; do [ "$n" -gt "$maxn" ] && maxn=$n; done
[ "$maxn" -le 2499 ] || die "at most 2499 calls (the baseline relay's ports would reach pinbridge's range)"

echo "== building rtpgen and relay"
for p in rtpgen relay; do
	gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$work/$p" "$here/$p.c" || die "cannot build $p"
done

rss_kb() { sed -n 's/^VmRSS:\s*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
metric() { # metric NAME: the sum of a pinbridge metric's series
	curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" \
		'$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.0f\n", s }'
}

# --- pinbridge ------------------------------------------------------------------
uport=$(free_udp_on $CALLEE_IP)
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
echo "== creating $maxn direct allocations"
python3 "$here/bench.py" alloc "$port" bench bench-key bench-token "$vn_first" "$vn_count" \
	"$maxn" "$work/calls.csv" "$PORT0" 0 || die "creating allocations failed"
{
	echo SEQUENTIAL
	for ((i = 0; i < maxn; i++)); do echo "$PORT0;"; done
} >"$work/uas.csv"
rss_start=$(rss_kb "$pb") # with the allocations, before any call

# gen NAME FLOWS: runs rtpgen; its result line into $work/NAME.gen
gen() {
	"$work/rtpgen" "$MEDIA" "$2" >"$work/$1.genout" 2>&1
	grep '^BENCH ' "$work/$1.genout" | cut -d' ' -f2- >"$work/$1.gen"
	[ -s "$work/$1.gen" ] || cat "$work/$1.genout" >&2
}
field() { tr ' ' '\n' <"$work/$1" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1; }

# baseline N
baseline() {
	local n=$1 i ra rb g rp t0 t1
	: >"$work/pairs-$n"
	: >"$work/bflows-$n"
	for ((i = 0; i < n; i++)); do
		g=$PORT0
		ra=$((PORT0 + 4 * i))
		rb=$((ra + 2))
		echo "127.0.0.1 $ra $CALLER_IP $g $rb $CALLEE_IP $g" >>"$work/pairs-$n"
		echo "$CALLER_IP $g 127.0.0.1 $ra" >>"$work/bflows-$n"
		echo "$CALLEE_IP $g 127.0.0.1 $rb" >>"$work/bflows-$n"
	done
	"$work/relay" $((MEDIA + 3)) "$work/pairs-$n" >"$work/relay-$n.out" 2>&1 &
	rp=$!
	pids+=("$rp")
	sleep 0.5
	t0=$(cpu_ticks "$rp")
	gen "base-$n" "$work/bflows-$n"
	t1=$(cpu_ticks "$rp")
	wait "$rp"
	echo "cpu_ticks=$((t1 - t0)) $(cat "$work/relay-$n.out" | sed -n 's/^BENCH //p')" >"$work/base-$n.cpu"
}

lines() { # lines WORD FILE: how many lines of FILE start with WORD (0 if none or no file)
	local c
	c=$(grep -c "^$1 " "$2" 2>/dev/null)
	echo "${c:-0}"
}

# through N: N calls through pinbridge with media
through() {
	local n=$1 hold d cport i c0 c1 r0 r1 rel0 rel1 drop0 drop1 up deadline
	d="$work/pb-$n"
	mkdir -p "$d"
	# every call holds until the media run is over: setup + margin + media
	hold=$(((n / RATE + 15 + MEDIA + 5) * 1000))
	sed "s/HOLD_MS/$hold/" "$here/uac.xml" >"$d/uac.xml"
	cp "$here/uas.xml" "$work/uas.csv" "$work/calls.csv" "$d/"
	r0=$(rss_kb "$pb")
	(cd "$d" && exec sipp -sf uas.xml -inf uas.csv -i $CALLEE_IP -p "$uport" -t u1 -nostdin \
		-recv_timeout $((hold + 60000)) -trace_logs -log_file uas.log \
		-trace_err -error_file uas.errors >uas.out 2>&1) &
	local uas=$!
	pids+=("$uas")
	sleep 0.5
	cport=$(free_udp_on $CALLER_IP)
	(cd "$d" && exec sipp "127.0.0.1:$sport" -sf uac.xml -inf calls.csv -i $CALLER_IP -p "$cport" \
		-t u1 -r "$RATE" -m "$n" -l $((n + 10)) -nostdin -recv_timeout $((hold + 60000)) \
		-timeout $((hold / 1000 + n / RATE + 60))s -trace_stat -fd 1 -stf stat.csv \
		-trace_logs -log_file uac.log -trace_err -error_file uac.errors >uac.out 2>&1) &
	local uac=$!
	pids+=("$uac")
	deadline=$((SECONDS + n / RATE + 15))
	up=0
	while [ $SECONDS -lt $deadline ]; do
		up=$(metric pinbridge_calls_active)
		[ "$(lines CALLER "$d/uac.log")" -ge "$n" ] && [ "$(lines CALLEE "$d/uas.log")" -ge "$n" ] && break
		sleep 0.5
	done
	up=$(metric pinbridge_calls_active)
	sleep 1
	r1=$(rss_kb "$pb")
	awk -v c=$CALLER_IP '/^CALLER / { print c, $3, $6, $8 }' "$d/uac.log" >"$d/flows"
	awk -v c=$CALLEE_IP '/^CALLEE / { print c, $3, $6, $8 }' "$d/uas.log" >>"$d/flows"
	echo "   $n calls: $(lines CALLER "$d/uac.log") answered at the caller," \
		"$(lines CALLEE "$d/uas.log") at the callee, pinbridge_calls_active $up"
	rel0=$(metric pinbridge_rtp_packets_relayed_total)
	drop0=$(metric pinbridge_rtp_packets_dropped_total)
	c0=$(cpu_ticks "$pb")
	gen "pb-$n" "$d/flows"
	c1=$(cpu_ticks "$pb")
	rel1=$(metric pinbridge_rtp_packets_relayed_total)
	drop1=$(metric pinbridge_rtp_packets_dropped_total)
	echo "cpu_ticks=$((c1 - c0)) rss0=$r0 rss1=$r1 active=$up relayed=$((rel1 - rel0)) dropped=$((drop1 - drop0))" \
		>"$work/pb-$n.cpu"
	echo "   waiting for the calls to end (hold $((hold / 1000)) s)"
	wait "$uac"
	echo "$(python3 "$here/bench.py" stat "$d/stat.csv" 2>/dev/null)" >>"$work/pb-$n.cpu"
	kill "$uas" 2>/dev/null
	wait "$uas" 2>/dev/null
	deadline=$((SECONDS + 30))
	while [ $SECONDS -lt $deadline ] && [ "$(metric pinbridge_calls_active)" != 0 ]; do sleep 0.5; done
	sleep 1 # port quarantine
}

for n in $CALLS; do
	echo "== $n calls: baseline relay, ${MEDIA}s of media"
	baseline "$n"
	echo "   $(cat "$work/base-$n.gen")"
	echo "== $n calls through pinbridge (set up at $RATE/s), ${MEDIA}s of media"
	through "$n"
	echo "   $(cat "$work/pb-$n.gen")"
	echo "   $(cat "$work/pb-$n.cpu" | tr '\n' ' ')"
done
alive=yes
kill -0 "$pb" 2>/dev/null || alive=no
hwm=$(sed -n 's/^VmHWM:\s*//p' "/proc/$pb/status" 2>/dev/null)

f() { tr ' ' '\n' <"$1" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1; }
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
report() {
	echo "pinbridge concurrency benchmark ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null))"
	echo "binary: $B/pinbridge ($(date -u -r "$B/pinbridge" '+built %Y-%m-%d %H:%M UTC'); the commit above is the tree's HEAD)"
	echo "machine: $(nproc) cores ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "N direct calls, 20 ms PCMU both ways (172-byte packets, 50/s per direction), ${MEDIA}s per run;"
	echo "generator and sink: rtpgen.c (sendmmsg/recvmmsg, one thread) on the same machine;"
	echo "offered = packets the generator managed to send / the 20 ms schedule (below 100 %: the"
	echo "generator itself was short of CPU, the rate relayed is then what it offered, not the relay's limit);"
	echo "loss is counted against what was sent; jitter = mean per-flow RFC 3550 jitter of the transit times"
	echo
	printf '%-6s %-9s %8s %9s %8s %10s %11s %11s %10s %10s %10s %9s\n' N run "offered" "pkts/s" "loss %" \
		"jitter" "transit p50" "transit p99" "CPU/call" "mem/call" "pkts/CPU-s" "vs base"
	local n g c secs pps_b pps_p
	for n in $CALLS; do
		g="$work/base-$n.gen"
		c="$work/base-$n.cpu"
		secs=$(awk -v t="$(f "$c" cpu_ticks)" -v k="$tck" 'BEGIN { print t / k }')
		pps_b=$(awk -v r="$(f "$g" received)" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print 0 }')
		printf '%-6s %-9s %8s %9s %8s %10s %11s %11s %10s %10s %10s %9s\n' "$n" "relay.c" \
			"$(f "$g" offered_pct) %" "$(f "$g" rx_pps)" \
			"$(f "$g" loss_pct)" "$(f "$g" jitter_mean_us) us" "$(f "$g" transit_p50_us) us" \
			"$(f "$g" transit_p99_us) us" \
			"$(awk -v s="$secs" -v m="$MEDIA" -v n="$n" 'BEGIN { printf "%.3f %%", 100 * s / (m + 1) / n }')" \
			"" "$pps_b" ""
		g="$work/pb-$n.gen"
		c="$work/pb-$n.cpu"
		secs=$(awk -v t="$(f "$c" cpu_ticks)" -v k="$tck" 'BEGIN { print t / k }')
		pps_p=$(awk -v r="$(f "$g" received)" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print 0 }')
		printf '%-6s %-9s %8s %9s %8s %10s %11s %11s %10s %10s %10s %9s\n' "$n" "pinbridge" \
			"$(f "$g" offered_pct) %" "$(f "$g" rx_pps)" \
			"$(f "$g" loss_pct)" "$(f "$g" jitter_mean_us) us" "$(f "$g" transit_p50_us) us" \
			"$(f "$g" transit_p99_us) us" \
			"$(awk -v s="$secs" -v m="$MEDIA" -v n="$n" 'BEGIN { printf "%.3f %%", 100 * s / (m + 1) / n }')" \
			"$(awk -v a="$rss_start" -v b="$(f "$c" rss1)" -v n="$n" 'BEGIN { printf "%.1f kB", (b - a) / n }')" \
			"$pps_p" "$(awk -v a="$pps_p" -v b="$pps_b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')"
	done
	echo
	echo "pinbridge details per N (calls answered before the media run, its own relayed/dropped counters,"
	echo "the caller SIPp's call counts, generator flows that received nothing):"
	for n in $CALLS; do
		c="$work/pb-$n.cpu"
		g="$work/pb-$n.gen"
		echo "  $n: active $(f "$c" active), flows $(f "$g" flows), sent $(f "$g" sent), received $(f "$g" received)," \
			"lost $(f "$g" lost), silent flows $(f "$g" silent_flows), jitter max $(f "$g" jitter_max_us) us," \
			"generator CPU $(f "$g" gen_cpu_s) s, sink socket drops $(f "$g" sink_overflow), ports it could not bind $(f "$g" bind_failures);" \
			"pinbridge relayed $(f "$c" relayed), dropped $(f "$c" dropped); SIPp created $(f "$c" created)," \
			"succeeded $(f "$c" succeeded), failed $(f "$c" failed)"
	done
	echo "  mem/call = (pinbridge's RSS with the N calls up - its RSS before the first call, $rss_start kB) / N"
	echo "  pinbridge peak RSS $hwm; still running: $alive"
	echo
	echo "targets: zero loss at 1,000 calls; pinbridge >= 0.7x the baseline's packets per CPU-second"
}
echo
# The table also lands in BUILD_DIR/bench-concurrency.txt, for pasting into the README.
report | tee "$B/bench-concurrency.txt"
pb_crash_report
if [ -n "${BENCH_KEEP:-}" ]; then
	rm -rf "$B/bench-conc-work"
	cp -r "$work" "$B/bench-conc-work" && echo "work dir kept in $B/bench-conc-work" >&2
fi
exit 0
