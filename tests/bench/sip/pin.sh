#!/usr/bin/env bash
# PIN-flow benchmark: figures, never a gate (issue 6, benchmark 2). In one run,
# on this machine, for each rate of RATES (STEP seconds of new calls each):
#   1. pin: a SIPp caller on 127.0.0.2 calls a VN whose allocation needs A's
#      PIN (tenant pin.a on); pinbridge answers and plays "enter PIN"; LEAD ms
#      after the ACK the caller plays a pcap of the 4 digits as RFC 4733 events
#      (bench.py dtmfpcap: 5 packets 20 ms apart, 3 end packets, 100 ms between
#      digits; they barge into the prompt); pinbridge verifies the PIN and
#      dials B while "please wait" plays; a SIPp callee on 127.0.0.3 answers at once;
#      the caller hangs up HOLD ms after that;
#   2. pin-short: the same with a tenant whose prompts.please_wait is 20 ms of
#      silence (before commit bc1e4ce the shipped 3.2 s prompt was played out
#      before the hunt started; this run showed pinbridge's own share then);
#   3. direct: baseline, the same callers and callees through pinbridge with
#      no PIN (tenant pin off): INVITE sent by the caller -> INVITE at the
#      callee, i.e. what pinbridge takes to route and dial a direct call;
# stepping up until more than 0.1 % of the pin run's calls fail. Every call
# has its own allocation (own caller, VN and callee: R1 holds, one PIN on
# every VN), so the caller's log ("MARK caller time": the wall clock when the
# pcap starts playing, or when the INVITE leaves) joins the callee's ("INVITE
# user time", Request-URI user) by bench.py join, both SIPps on this machine's
# clock. Latency = callee INVITE - (mark + the offset of the last digit's end
# packet in the pcap), and also from the last digit's first packet (pinbridge
# takes a digit on an event's first packet). A call fails if the caller's
# SIPp counts it failed or its callee never saw an INVITE.
#
# Needs root: SIPp plays pcaps from a raw socket.
# Usage: tests/bench/sip/pin.sh [BUILD_DIR]      (make bench-pin)
# Environment: BENCH_PIN_RATES ("50 100 150 200 250 300 400"), BENCH_STEP_SECONDS (10),
#   BENCH_HOLD_MS (1000), BENCH_PIN_LEAD_MS (300), BENCH_PIN_PATIENCE_MS (5000),
#   BENCH_CALL_LIMIT (-l, 5000),
#   BENCH_PIN_RUNS ("pin pin-short direct"), BENCH_KEEP, BENCH_PIN_WIRE (1: also
#   capture the SIP and RFC 4733 packets on lo with tcpdump during the PIN runs
#   and take the same latencies from the kernel's timestamps, bench.py wire:
#   a check on the SIPp clocks that join relies on; it costs CPU).
set -uo pipefail
exec </dev/null

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1
B=${1:-build}
RATES=${BENCH_PIN_RATES:-50 100 150 200 250 300 400}
STEP=${BENCH_STEP_SECONDS:-10}
HOLD=${BENCH_HOLD_MS:-1000}
LEAD=${BENCH_PIN_LEAD_MS:-300}
PATIENCE=${BENCH_PIN_PATIENCE_MS:-5000}
LIMIT=${BENCH_CALL_LIMIT:-5000}
RUNS=${BENCH_PIN_RUNS:-pin pin-short direct}
WIRE=${BENCH_PIN_WIRE:-}
PIN=1357
CALLER_IP=127.0.0.2
CALLEE_IP=127.0.0.3

# shellcheck source=../lib.sh
. "$here/../lib.sh"
[ "$(id -u)" = 0 ] || die "SIPp plays the digits' pcap from a raw socket: run as root"
bench_prepare pin sipp curl meson ninja python3
[ -z "$WIRE" ] || command -v tcpdump >/dev/null || die "BENCH_PIN_WIRE needs tcpdump"

maxr=0
for r in $RATES; do [ "$r" -gt "$maxr" ] && maxr=$r; done
NALLOC=$((maxr * STEP))
[ "$NALLOC" -le 10000 ] || die "RATES x STEP is at most 10000 calls per step (one VN per call)"

# --- the digits, the prompts, the scenarios ---------------------------------
python3 "$here/bench.py" dtmfpcap $PIN "$work/pin.pcap" >"$work/pcap.txt" || die "dtmfpcap failed"
pfield() { tr ' ' '\n' <"$work/pcap.txt" | sed -n "s/^$1=//p"; }
last_start=$(pfield last_start_ms)
last_end=$(pfield last_end_ms)
pcap_len=$(pfield length_ms)
wait_ms=$(python3 -c 'import wave, sys
w = wave.open(sys.argv[1]); print(int(1000 * w.getnframes() / w.getframerate()))' \
	"$root/media/prompts/please_wait.wav") || die "cannot read please_wait.wav"
# 20 ms of silence: the short "please wait" of pin-short
python3 -c 'import wave, sys
w = wave.open(sys.argv[1], "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"\0\0" * 160); w.close()' "$work/short.wav"

# The caller holds: the pcap, "please wait", then PATIENCE for the dial and
# the answer, then HOLD (a callee not yet answered then is CANCELed: a failed
# call). A bridged call lasts HOLD ms plus what is left of PATIENCE.
uac() { # uac WAIT_MS OUT
	sed -e "s|LEAD_MS|$LEAD|" -e "s|PCAP_FILE|$work/pin.pcap|" -e "s|WAIT_MS|$1|" \
		"$here/pin_uac.xml" >"$2"
}
uac $((pcap_len + wait_ms + PATIENCE + HOLD)) "$work/pin.xml"
uac $((pcap_len + 20 + PATIENCE + HOLD)) "$work/pin-short.xml"
# The direct caller: uac.xml, logging the wall clock just before its INVITE.
sed -e "s/HOLD_MS/$HOLD/" \
	-e 's|^\(  <send retrans="500" start_rtd="setup">\)|  <nop><action><gettimeofday assign_to="sec,usec"/><log message="MARK [field0] [$sec] [$usec]"/></action></nop>\n\1|' \
	"$here/uac.xml" >"$work/direct.xml"
grep -q 'MARK' "$work/direct.xml" || die "cannot mark uac.xml's INVITE"
cp "$here/pin_uas.xml" "$work/uas.xml"
printf 'SEQUENTIAL\n4002;\n' >"$work/uas.csv"

# --- pinbridge: three tenants, one VN per allocation --------------------------
uport=$(free_udp_on $CALLEE_IP)
vn_pin=917400000000
vn_short=917500000000
vn_direct=917600000000
tenant() { # tenant ID VN_FIRST PIN_A EXTRA
	cat <<EOT
  { id = "$1"; api_key = "$1-key"; api_token = "$1-token";
    country = "91"; national_length = 10; countries = ["91"]; trunk = "bench";
    vns = ["+$2-+$(($2 + NALLOC - 1))"];
    pin = { a = $3; b = false; max_attempts = 3; first_digit = "10s"; inter_digit = "5s";
            lockout_after = 1000000; lockout_window = "1s"; lockout_for = "1s"; };
    ring_timeout = "10s"; max_hunt = "20s"; rtp_timeout = "300s";$4 }
EOT
}
cat >"$work/pinbridge.conf" <<EOC
sweep_interval = "1s";
store = { map_size = "1G"; };
media = { port_min = 20000; port_max = 59999; port_quarantine = "500ms"; };
trunks = ( { name = "bench"; allow = ["$CALLER_IP/32", "$CALLEE_IP/32"];
             outbound = "sip:$CALLEE_IP:$uport"; dial_format = "e164"; latch = "learn"; } );
tenants = (
$(tenant pin $vn_pin true ""),
$(tenant pinshort $vn_short true "
    prompts = { please_wait = \"$work/short.wav\"; };"),
$(tenant direct $vn_direct false "")
);
EOC
pb_start
echo "== pinbridge on 127.0.0.1 (http $port, sip $sport), callees on $CALLEE_IP:$uport"
echo "== creating 3 x $NALLOC allocations (one per VN; PIN $PIN on A for pin and pin-short)"
for t in pin:$vn_pin:pin=$PIN pinshort:$vn_short:pin=$PIN direct:$vn_direct:; do
	IFS=: read -r id vn opt <<<"$t"
	python3 "$here/bench.py" alloc "$port" "$id" "$id-key" "$id-token" "$vn" "$NALLOC" "$NALLOC" \
		"$work/$id.csv" ${opt:+"$opt"} || die "creating $id allocations failed"
done
# The direct caller's map (caller -> callee) is the PIN one's: same numbers.
cut -d';' -f1-4 "$work/pin.csv" >"$work/map.csv"

# step NAME RATE: a callee SIPp for the step, the caller SIPp at RATE calls/s
# for STEP seconds; the result line lands in $work/NAME-RATE.res
step() {
	local name=$1 rate=$2 n d cport mport csv uas st ust jn td=""
	n=$((rate * STEP))
	d="$work/$name-$rate"
	mkdir -p "$d"
	case $name in
	pin) csv=pin.csv ;;
	pin-short) csv=pinshort.csv ;;
	*) csv=direct.csv ;;
	esac
	cp "$work/$name.xml" "$d/uac.xml"
	cp "$work/$csv" "$d/calls.csv"
	cp "$work/uas.xml" "$work/uas.csv" "$d/"
	(cd "$d" && exec sipp -sf uas.xml -inf uas.csv -i $CALLEE_IP -p "$uport" -t u1 -nostdin \
		-recv_timeout 60000 -trace_logs -log_file uas.log -trace_stat -fd 1 -stf uas-stat.csv \
		-trace_err -error_file uas.errors >uas.out 2>&1) &
	uas=$!
	pids+=("$uas")
	cport=$(free_udp_on $CALLER_IP)
	mport=$(free_udp_on $CALLER_IP)
	if [ -n "$WIRE" ] && [ "$name" != direct ]; then
		# INVITEs to this callee, answers to this caller, this caller's events
		# (by port: other tests on the machine use the same addresses)
		tcpdump -i lo -n -B 32768 -w "$d/wire.pcap" "udp and ((dst host $CALLEE_IP and dst port $uport and udp[8:4] = 0x494e5649) or (dst host $CALLER_IP and dst port $cport and udp[8:4] = 0x5349502f) or (src host $CALLER_IP and src port $mport and dst host 127.0.0.1 and (udp[9] & 0x7f) = 101))" \
			>"$d/tcpdump.out" 2>&1 &
		td=$!
		pids+=("$td")
	fi
	sleep 0.3
	(cd "$d" && exec sipp "127.0.0.1:$sport" -sf uac.xml -inf calls.csv -i $CALLER_IP -p "$cport" \
		-mi $CALLER_IP -mp "$mport" -t u1 -r "$rate" -m "$n" -l "$LIMIT" -nostdin \
		-recv_timeout 10000 -timeout $((STEP * 3 + 60))s -trace_logs -log_file uac.log \
		-trace_stat -fd 1 -stf stat.csv -trace_err -error_file errors.log >sipp.out 2>&1)
	sleep 1
	kill "$uas" 2>/dev/null
	wait "$uas" 2>/dev/null
	if [ -n "$td" ]; then
		kill "$td" 2>/dev/null
		wait "$td" 2>/dev/null
	fi
	st=$(python3 "$here/bench.py" stat "$d/stat.csv" 2>/dev/null || echo "created=0 succeeded=0 failed=0")
	ust=$(python3 "$here/bench.py" stat "$d/uas-stat.csv" 2>/dev/null | sed 's/^created=[0-9]* //;s/ elapsed=.*//;s/\([a-z_]*\)=/uas_\1=/g')
	if [ "$name" = direct ]; then
		jn=$(python3 "$here/bench.py" join "$d/uac.log" "$d/uas.log" "$work/map.csv" offset=inv:0)
	else
		jn=$(python3 "$here/bench.py" join "$d/uac.log" "$d/uas.log" "$d/calls.csv" \
			"offset=end:$last_end" "offset=start:$last_start")
		[ -z "$td" ] || jn="$jn $(python3 "$here/bench.py" wire "$d/wire.pcap" "$d/uac.log" \
			"${PIN: -1}" "offset=end:$last_end") $(sed -n 's/^\([0-9]*\) packets dropped by kernel/tcpdump_dropped=\1/p' "$d/tcpdump.out")"
	fi
	echo "$st $ust $jn" >"$work/$name-$rate.res"
}
thread_ticks() { # thread_ticks PID: "tid ticks" per thread
	local t
	for t in /proc/"$1"/task/*; do
		echo "${t##*/} $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)"
	done
}
field() { tr ' ' '\n' <"$work/$1.res" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1; }
# failed calls: the caller's failures, and calls whose callee saw no INVITE
nfail() {
	awk -v c="$(field "$1" created)" -v s="$(field "$1" succeeded)" -v j="$(field "$1" joined)" \
		-v uf="$(field "$1" uas_failed)" 'BEGIN { a = c - s; b = c - j; if (b > a) a = b; if (uf > a) a = uf;
		print (a < 0 ? 0 : a) }'
}
failpct() { awk -v c="$(field "$1" created)" -v f="$(nfail "$1")" \
	'BEGIN { if (c > 0) printf "%.2f", 100 * f / c; else print "100" }'; }
ok_step() { awk -v p="$(failpct "$1")" 'BEGIN { exit !(p < 0.1) }'; }

: >"$work/rates"
cpu0=$(cpu_ticks "$pb")
echo "== rates: $RATES (${STEP}s each, lead ${LEAD} ms, hold ${HOLD} ms); runs per rate: $RUNS"
for r in $RATES; do
	echo "$r" >>"$work/rates"
	for name in $RUNS; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		t0=$(cpu_ticks "$pb")
		thread_ticks "$pb" >"$work/threads0"
		w0=$(date +%s%N)
		step "$name" "$r"
		w1=$(date +%s%N)
		t1=$(cpu_ticks "$pb")
		thread_ticks "$pb" >"$work/threads1"
		# the busiest thread over the step, in % of a core
		top=$(awk -v k="$tck" -v s="$(((w1 - w0) / 1000000))" 'NR == FNR { a[$1] = $2; next }
			{ d = $2 - a[$1]; if (d > m) m = d } END { printf "%.0f", 100 * m / k / (s / 1000) }' \
			"$work/threads0" "$work/threads1")
		echo "cpu_ticks=$((t1 - t0)) top_thread_pct=$top load=$load" >>"$work/$name-$r.res"
		printf '   %-9s %4d calls/s: %s\n' "$name" "$r" "$(tr '\n' ' ' <"$work/$name-$r.res")"
	done
	case " $RUNS " in *" pin "*) ok_step "pin-$r" || break ;; esac
done
cpu1=$(cpu_ticks "$pb")
hwm=$(sed -n 's/^VmHWM:\s*//p' "/proc/$pb/status")
sleep 1
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^pinbridge_(calls_total|calls_active|pin_attempts_total)' \
	>"$work/metrics.txt" || true
alive=yes
kill -0 "$pb" 2>/dev/null || alive=no

max_ok() { # max_ok NAME: the highest rate with < 0.1 % failures
	local r m=0
	while read -r r; do
		[ -f "$work/$1-$r.res" ] || continue
		ok_step "$1-$r" && m=$r
	done <"$work/rates"
	echo "$m"
}

cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
report() {
	echo "pinbridge PIN-flow benchmark ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null))"
	echo "binary: $B/pinbridge ($(date -u -r "$B/pinbridge" '+built %Y-%m-%d %H:%M UTC'); the commit above is the tree's HEAD)"
	echo "machine: $(nproc) cores ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "${STEP}s per step; PIN $PIN as RFC 4733 events from a pcap, ${LEAD} ms after the ACK (barging into"
	echo "the prompt); the last digit's first packet at +${last_start} ms, its end at +${last_end} ms; the PIN callers"
	echo "hang up ${PATIENCE} + ${HOLD} ms after the time a prompt-long wait would bridge them (a callee not answered"
	echo "by then fails), the direct ones ${HOLD} ms after the answer"
	echo "pin:       shipped prompts (\"please wait\" = ${wait_ms} ms, played before the hunt)"
	echo "pin-short: prompts.please_wait = 20 ms of silence"
	echo "direct:    no PIN (baseline): caller's INVITE sent -> callee's INVITE received"
	echo "latency = callee's INVITE - the last digit's end packet (from its first packet in brackets);"
	echo "top thr = pinbridge's busiest thread over the step (caller SIPp's run), % of one core;"
	echo "load = the 1-min load average when the step began"
	echo
	printf '%-10s %7s %9s %7s %8s %16s %16s %10s %8s %7s %6s\n' run calls/s attempted failed "fail %" \
		"latency p50" "latency p99" "max" "CPU/call" "top thr" load
	local name r res cpc p50 p99 mx
	while read -r r; do
		for name in $RUNS; do
			res="$name-$r"
			[ -f "$work/$res.res" ] || continue
			cpc=$(awk -v t="$(field "$res" cpu_ticks)" -v k="$tck" -v s="$(field "$res" created)" \
				'BEGIN { if (s > 0) printf "%.1f ms", 1e3 * t / k / s; else print "n/a" }')
			if [ "$name" = direct ]; then
				p50="$(field "$res" inv_p50_ms) ms"
				p99="$(field "$res" inv_p99_ms) ms"
				mx="$(field "$res" inv_max_ms) ms"
			else
				p50="$(field "$res" end_p50_ms) ($(field "$res" start_p50_ms))"
				p99="$(field "$res" end_p99_ms) ($(field "$res" start_p99_ms))"
				mx="$(field "$res" end_max_ms)"
			fi
			printf '%-10s %7s %9s %7s %8s %16s %16s %10s %8s %7s %6s\n' "$name" "$r" "$(field "$res" created)" \
				"$(nfail "$res")" "$(failpct "$res")" "$p50" "$p99" "$mx" "$cpc" \
				"$(field "$res" top_thread_pct) %" "$(field "$res" load)"
		done
	done <"$work/rates"
	if [ -n "$WIRE" ]; then
		echo
		echo "the same from the wire (tcpdump on lo, kernel timestamps; SIPp lag = its last end packet's"
		echo "wire time - the time join assumes, MARK + ${last_end} ms):"
		while read -r r; do
			for name in $RUNS; do
				res="$name-$r"
				[ "$name" != direct ] && [ -f "$work/$res.res" ] || continue
				printf '%-10s %7s  calls %5s  latency p50 %7s (%s)  p99 %7s (%s)  SIPp lag p50 %s p99 %s max %s ms  tcpdump dropped %s\n' \
					"$name" "$r" "$(field "$res" calls)" "$(field "$res" wire_end_p50_ms)" \
					"$(field "$res" wire_start_p50_ms)" "$(field "$res" wire_end_p99_ms)" \
					"$(field "$res" wire_start_p99_ms)" "$(field "$res" sipp_lag_p50_ms)" \
					"$(field "$res" sipp_lag_p99_ms)" "$(field "$res" sipp_lag_max_ms)" \
					"$(field "$res" tcpdump_dropped)"
			done
		done <"$work/rates"
	fi
	echo
	for name in $RUNS; do
		printf 'max calls/s at < 0.1 %% failures, %-9s %s (of the rates tried)\n' "$name:" "$(max_ok "$name")"
	done
	echo "pinbridge CPU over the run: $(awk -v t="$((cpu1 - cpu0))" -v k="$tck" 'BEGIN { printf "%.1f s", t / k }'); peak RSS $hwm; still running: $alive"
	if [ -s "$work/metrics.txt" ]; then
		echo
		echo "pinbridge /metrics afterwards:"
		sed 's/^/  /' "$work/metrics.txt"
	fi
}
echo
# The table also lands in BUILD_DIR/bench-pin.txt, for pasting into the README.
report | tee "$B/bench-pin.txt"
pb_crash_report
if [ -n "${BENCH_KEEP:-}" ]; then
	rm -rf "$B/bench-pin-work"
	cp -r "$work" "$B/bench-pin-work" && echo "work dir kept in $B/bench-pin-work" >&2
fi
exit 0
