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
#   3. pinbridge+srtp (issue 7; BENCH_SRTP=0 skips it): the same through a
#      second pinbridge whose trunk has srtp = "mandatory" (and
#      srtp_plain_transport, SIPp signals over UDP), so both legs are
#      SDES-SRTP: the scenarios uac_srtp.xml/uas_srtp.xml offer and answer
#      with one fixed key per side (CALLER_KEY, CALLEE_KEY below, for every
#      call) and log pinbridge's own key for each leg, and rtpgen -srtp
#      protects what it sends with the side's key and unprotects what
#      arrives with pinbridge's key for that leg;
#   4. pinbridge+rec (issue 8; BENCH_REC=0 skips it): the calls and media of
#      the plain run through a third pinbridge whose tenant has record =
#      true, so every bridged call is written to a stereo WAV under its data
#      dir (on the build dir's filesystem, the one ./var would use, never
#      tmpfs); after the run the recorder's counters (/metrics) are read, the
#      WAV files checked against the call records (bench.py recs: 44 bytes +
#      32 per millisecond of call) and removed;
# and prints per N: packets/s relayed, loss, added jitter (RFC 3550
# interarrival jitter of the transit times), transit p50/p99, CPU per call (%
# of a core), memory per call (RSS delta / N), packets per CPU-second of
# pinbridge against the baseline (target >= 0.7x; zero loss at 1,000 calls),
# and pinbridge+srtp's and pinbridge+rec's CPU per call against plain
# pinbridge's; then per N the recorder's figures: recordings completed
# against calls, frames queued and dropped, bytes per call-second, the time
# and CPU the writer took to finish the files after the calls ended, and
# what the process sent to disk.
#
# Usage: tests/bench/sip/concurrency.sh [BUILD_DIR]      (make bench-calls)
# Environment: BENCH_CALLS ("500 1000 2000"), BENCH_MEDIA_SECONDS (20),
#   BENCH_SETUP_RATE (100 calls/s), BENCH_SRTP (1: the SRTP run too),
#   BENCH_REC (1: the recording run too).
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
SRTP=${BENCH_SRTP:-1}
REC=${BENCH_REC:-1}
# The generator's SDES keys (inline: base64 of a 16-byte master key and a
# 14-byte salt), one per side for every call: a benchmark's, not secrets.
CALLER_KEY=+o5Xz9lTjCGeyaCyvhQ+Rez5sZFZ6dUkGEgR0iu2
CALLEE_KEY=tROC0w9rvM3lw8ZEyvJUG5SA5zqZYtQk7cJrmRnc

# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_prepare conc sipp curl gcc meson ninja python3

maxn=0
for n in $CALLS; do [ "$n" -gt "$maxn" ] && maxn=$n; done
[ "$maxn" -le 2499 ] || die "at most 2499 calls (the baseline relay's ports would reach pinbridge's range)"

echo "== building rtpgen and relay"
# shellcheck disable=SC2046 # pkg-config's flags are words
gcc -std=c11 -O2 -Wall -Wextra -Werror $(pkg-config --cflags nss) -o "$work/rtpgen" "$here/rtpgen.c" \
	-lsrtp2 -lnss3 || die "cannot build rtpgen (libsrtp2-dev and its libnss3-dev: make deps)"
gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$work/relay" "$here/relay.c" || die "cannot build relay"

rss_kb() { sed -n 's/^VmRSS:\s*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
metric() { # metric HTTP_PORT NAME: the sum of a pinbridge metric's series
	curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" \
		'$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.0f\n", s }'
}

# --- pinbridge ------------------------------------------------------------------
uport=$(free_udp_on $CALLEE_IP)
vn_first=917400000000
vn_count=1000
conf() { # conf TRUNK_EXTRA [TENANT_EXTRA]: a pinbridge config into $work/pinbridge.conf
	cat >"$work/pinbridge.conf" <<EOC
sweep_interval = "1s";
store = { map_size = "1G"; };
media = { port_min = 20000; port_max = 59999; port_quarantine = "500ms"; };
trunks = ( { name = "bench"; allow = ["$CALLER_IP/32", "$CALLEE_IP/32"];
             outbound = "sip:$CALLEE_IP:$uport"; dial_format = "e164"; latch = "learn"; $1 } );
tenants = ( {
  id = "bench"; api_key = "bench-key"; api_token = "bench-token";
  country = "91"; national_length = 10; countries = ["91"]; trunk = "bench";
  vns = ["+$vn_first-+$((vn_first + vn_count - 1))"];
  pin = { a = false; b = false; };
  ring_timeout = "10s"; max_hunt = "20s"; rtp_timeout = "300s"; ${2:-}
} );
EOC
}
allocate() { # allocate: $maxn direct allocations on the pinbridge at $port, into $work/calls.csv
	echo "== creating $maxn direct allocations"
	python3 "$here/bench.py" alloc "$port" bench bench-key bench-token "$vn_first" "$vn_count" \
		"$maxn" "$work/calls.csv" "$PORT0" 0 || die "creating allocations failed"
}
conf ""
pb_start
echo "== pinbridge on 127.0.0.1 (http $port, sip $sport), callee SIPp on $CALLEE_IP:$uport"
allocate
{
	echo SEQUENTIAL
	for ((i = 0; i < maxn; i++)); do echo "$PORT0;"; done
} >"$work/uas.csv"
rss_start=$(rss_kb "$pb") # with the allocations, before any call

# other_pb DIR WHAT TRUNK_EXTRA TENANT_EXTRA: one more pinbridge, with the
# allocations: lib.sh's pb_start with $work pointing at $work/DIR for the
# time (config, data, log, core dumps); sets opb, oport, osport and orss
# (its RSS before any call). The exit trap cleans up the whole of $work
# whatever it points at when a die() fires.
work_top=$work
trap 'work=$work_top; bench_cleanup' EXIT
other_pb() {
	local pb_plain=$pb port_plain=$port sport_plain=$sport
	mkdir -p "$work_top/$1"
	work=$work_top/$1
	conf "$3" "${4:-}"
	pb_start
	opb=$pb oport=$port osport=$sport
	echo "== pinbridge $2 on 127.0.0.1 (http $oport, sip $osport)"
	allocate
	pb=$pb_plain port=$port_plain sport=$sport_plain
	work=$work_top
	orss=$(rss_kb "$opb")
}
pbs=""
if [ "$SRTP" != 0 ]; then
	other_pb srtp "with SRTP on both legs" 'srtp = "mandatory"; srtp_plain_transport = true;'
	pbs=$opb port_s=$oport sport_s=$osport rss_start_s=$orss
fi
# The recording pinbridge's files go to the default <data_dir>/recordings:
# $work is in the build dir, on the disk operators' data would be on.
pbr=""
if [ "$REC" != 0 ]; then
	other_pb rec "recording every call" "" "record = true;"
	pbr=$opb port_r=$oport sport_r=$osport rss_start_r=$orss
	recdir=$work_top/rec/data/recordings
	recfs=$(findmnt -n -o FSTYPE,SOURCE -T "$work_top/rec/data" | tr -s ' ')
	case $recfs in tmpfs* | ramfs*) echo "bench: warning: recordings on $recfs, not a disk" >&2 ;; esac
	# The largest run's files (32,000 B per call-second, the calls held
	# as through() holds them), with a quarter to spare.
	need=$((maxn * (maxn / RATE + 15 + MEDIA + 5 + 5) * 32000 * 5 / 4 / 1000000))
	free=$(($(df -B1 --output=avail "$work_top/rec/data" | tail -n 1) / 1000000))
	[ "$free" -ge "$need" ] || die "the recordings of $maxn calls need about $need MB on $recfs, $free MB free"
fi

# gen NAME FLOWS [-srtp]: runs rtpgen; its result line into $work/NAME.gen
gen() {
	"$work/rtpgen" ${3:+"$3"} "$MEDIA" "$2" >"$work/$1.genout" 2>&1
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

# through N MODE: N calls through pinbridge with media. MODE plain: the
# pinbridge at $pb, uac.xml/uas.xml, results in $work/pb-N.*; srtp: the one
# at $pbs, uac_srtp.xml/uas_srtp.xml and rtpgen -srtp, results in
# $work/pbs-N.*; rec: the one at $pbr as plain, results in $work/pbr-N.*.
# Sets calls_ended ($EPOCHREALTIME) and ticks_ended (the pinbridge's CPU
# ticks) at the moment the caller SIPp is done, its last BYE answered, and
# settled and ticks_settled once no call nor recording is left.
through() {
	local n=$1 mode=$2 hold d cport i c0 c1 r0 r1 rel0 rel1 drop0 drop1 up deadline
	local name=pb-$n pid=$pb hp=$port sp=$sport top=$work sfx="" genopt="" ukey=() ckey=()
	case $mode in
	srtp)
		name=pbs-$n pid=$pbs hp=$port_s sp=$sport_s top=$work/srtp sfx=_srtp genopt=-srtp
		ckey=(-key srtp_key "$CALLER_KEY")
		ukey=(-key srtp_key "$CALLEE_KEY")
		;;
	rec) name=pbr-$n pid=$pbr hp=$port_r sp=$sport_r top=$work/rec ;;
	esac
	d="$work/$name"
	mkdir -p "$d"
	# every call holds until the media run is over: setup + margin + media
	hold=$(((n / RATE + 15 + MEDIA + 5) * 1000))
	sed "s/HOLD_MS/$hold/" "$here/uac$sfx.xml" >"$d/uac.xml"
	cp "$here/uas$sfx.xml" "$d/uas.xml"
	cp "$work/uas.csv" "$top/calls.csv" "$d/"
	r0=$(rss_kb "$pid")
	(cd "$d" && exec sipp -sf uas.xml -inf uas.csv -i $CALLEE_IP -p "$uport" -t u1 -nostdin \
		"${ukey[@]}" -recv_timeout $((hold + 60000)) -trace_logs -log_file uas.log \
		-trace_err -error_file uas.errors >uas.out 2>&1) &
	local uas=$!
	pids+=("$uas")
	sleep 0.5
	cport=$(free_udp_on $CALLER_IP)
	(cd "$d" && exec sipp "127.0.0.1:$sp" -sf uac.xml -inf calls.csv -i $CALLER_IP -p "$cport" \
		"${ckey[@]}" -t u1 -r "$RATE" -m "$n" -l $((n + 10)) -nostdin -recv_timeout $((hold + 60000)) \
		-timeout $((hold / 1000 + n / RATE + 60))s -trace_stat -fd 1 -stf stat.csv \
		-trace_logs -log_file uac.log -trace_err -error_file uac.errors >uac.out 2>&1) &
	local uac=$!
	pids+=("$uac")
	deadline=$((SECONDS + n / RATE + 15))
	up=0
	while [ $SECONDS -lt $deadline ]; do
		up=$(metric "$hp" pinbridge_calls_active)
		[ "$(lines CALLER "$d/uac.log")" -ge "$n" ] && [ "$(lines CALLEE "$d/uas.log")" -ge "$n" ] && break
		sleep 0.5
	done
	up=$(metric "$hp" pinbridge_calls_active)
	sleep 1
	r1=$(rss_kb "$pid")
	# flows: own address and port, pinbridge's; with SRTP then the side's
	# key and pinbridge's ("inline:KEY", the log line's last word)
	awk -v c=$CALLER_IP -v k="$CALLER_KEY" -v s="$mode" '/^CALLER / {
		if (s == "srtp") print c, $3, $6, $8, k, substr($NF, 8); else print c, $3, $6, $8 }' \
		"$d/uac.log" >"$d/flows"
	awk -v c=$CALLEE_IP -v k="$CALLEE_KEY" -v s="$mode" '/^CALLEE / {
		if (s == "srtp") print c, $3, $6, $8, k, substr($NF, 8); else print c, $3, $6, $8 }' \
		"$d/uas.log" >>"$d/flows"
	echo "   $n calls: $(lines CALLER "$d/uac.log") answered at the caller," \
		"$(lines CALLEE "$d/uas.log") at the callee, pinbridge_calls_active $up"
	rel0=$(metric "$hp" pinbridge_rtp_packets_relayed_total)
	drop0=$(metric "$hp" pinbridge_rtp_packets_dropped_total)
	c0=$(cpu_ticks "$pid")
	gen "$name" "$d/flows" $genopt
	c1=$(cpu_ticks "$pid")
	rel1=$(metric "$hp" pinbridge_rtp_packets_relayed_total)
	drop1=$(metric "$hp" pinbridge_rtp_packets_dropped_total)
	echo "cpu_ticks=$((c1 - c0)) rss0=$r0 rss1=$r1 active=$up relayed=$((rel1 - rel0)) dropped=$((drop1 - drop0))" \
		>"$work/$name.cpu"
	echo "   waiting for the calls to end (hold $((hold / 1000)) s)"
	wait "$uac"
	calls_ended=$EPOCHREALTIME ticks_ended=$(cpu_ticks "$pid")
	echo "$(python3 "$here/bench.py" stat "$d/stat.csv" 2>/dev/null)" >>"$work/$name.cpu"
	kill "$uas" 2>/dev/null
	wait "$uas" 2>/dev/null
	deadline=$((SECONDS + 30))
	while [ $SECONDS -lt $deadline ] && [ "$(metric "$hp" pinbridge_calls_active)" != 0 ]; do sleep 0.5; done
	# A recording's writer still writes the rest of its file after the call
	# (here silence: the media stopped before the hang-up), the header, then
	# syncs and renames it.
	deadline=$((SECONDS + 300))
	while [ $SECONDS -lt $deadline ] && [ "$(metric "$hp" pinbridge_recordings_active)" != 0 ]; do
		sleep 0.1
	done
	settled=$EPOCHREALTIME ticks_settled=$(cpu_ticks "$pid")
	sleep 1 # port quarantine
}

# recstat HTTP_PORT PID: the recorder's counters (/metrics) and what the
# process has sent to disk (/proc/PID/io write_bytes: its recordings and
# its store's commits alike), as NAME=VALUE words
recstat() {
	curl -s "http://127.0.0.1:$1/metrics" | awk '{ v[$1] = $NF } END {
		printf "rec_completed=%.0f rec_partial=%.0f rec_failed=%.0f queued=%.0f dropped=%.0f rec_bytes=%.0f peak=%.0f slots=%.0f",
			v["pinbridge_recordings_total{status=\"completed\"}"],
			v["pinbridge_recordings_total{status=\"partial\"}"],
			v["pinbridge_recordings_total{status=\"failed\"}"],
			v["pinbridge_recording_frames_total{result=\"queued\"}"],
			v["pinbridge_recording_frames_total{result=\"dropped\"}"],
			v["pinbridge_recording_bytes_total"],
			v["pinbridge_recording_queue_slots{kind=\"peak\"}"],
			v["pinbridge_recording_queue_slots{kind=\"size\"}"] }'
	echo " disk=$(sed -n 's/^write_bytes: //p' "/proc/$2/io" 2>/dev/null)"
}

# recording N: the pinbridge+rec run of N calls (through N rec), then the
# recorder's counters over the run (the queue's peak and size as they
# stand), the frames dropped in the first 2 s of media (from a sample of
# the counters every 0.25 s; the media starts when the first frame is
# queued), the time and CPU from the last BYE to the last file closed, and
# the check of the files (bench.py recs) into $work/pbr-N.rec; the files
# are removed after.
recording() {
	local n=$1 s0 s1 since sampler
	s0=$(recstat "$port_r" "$pbr")
	since=$EPOCHREALTIME
	while :; do
		echo "$EPOCHREALTIME $(metric "$port_r" 'pinbridge_recording_frames_total{result="queued"}')" \
			"$(metric "$port_r" 'pinbridge_recording_frames_total{result="dropped"}')"
		sleep 0.25
	done >"$work/pbr-$n.samples" &
	sampler=$!
	pids+=("$sampler")
	through "$n" rec
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	s1=$(recstat "$port_r" "$pbr")
	awk -v a="$s0" -v b="$s1" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) {
			split(x[i], p, "="); split(y[i], q, "=")
			printf "%s=%.0f ", p[1], p[1] == "peak" || p[1] == "slots" ? q[2] : q[2] - p[2]
		}
	}' >"$work/pbr-$n.rec"
	awk -v a="$calls_ended" -v b="$settled" -v t=$((ticks_settled - ticks_ended)) 'BEGIN {
		printf "finish_s=%.1f finish_cpu_ticks=%d ", b - a, t }' >>"$work/pbr-$n.rec"
	awk 'NR == 1 { q0 = $2; d0 = $3 } t0 == "" && $2 > q0 { t0 = $1 } t0 == "" || $1 <= t0 + 2 { d = $3 }
		END { printf "dropped_start=%.0f\n", d - d0 }' "$work/pbr-$n.samples" >>"$work/pbr-$n.rec"
	python3 "$here/bench.py" recs "$port_r" bench bench-key bench-token "$recdir/bench" "$since" \
		>>"$work/pbr-$n.rec" || echo "bench: checking the recordings failed" >&2
	echo "   recordings under $recdir ($(du -sh "$recdir" 2>/dev/null | cut -f1)), removed"
	rm -rf "${recdir:?}/bench"
}

show() { # show NAME: a run's generator line and pinbridge line
	echo "   $(cat "$work/$1.gen")"
	echo "   $(cat "$work/$1.cpu" "$work/$1.rec" 2>/dev/null | tr '\n' ' ')"
}

for n in $CALLS; do
	echo "== $n calls: baseline relay, ${MEDIA}s of media"
	baseline "$n"
	echo "   $(cat "$work/base-$n.gen")"
	echo "== $n calls through pinbridge (set up at $RATE/s), ${MEDIA}s of media"
	through "$n" plain
	show "pb-$n"
	if [ -n "$pbs" ]; then
		echo "== $n calls through pinbridge with SRTP on both legs (set up at $RATE/s), ${MEDIA}s of media"
		through "$n" srtp
		show "pbs-$n"
	fi
	if [ -n "$pbr" ]; then
		echo "== $n calls through pinbridge recording every call (set up at $RATE/s), ${MEDIA}s of media"
		recording "$n"
		show "pbr-$n"
	fi
done
ended() { # ended PID: its peak RSS and whether it still runs
	local alive=yes
	kill -0 "$1" 2>/dev/null || alive=no
	echo "peak RSS $(sed -n 's/^VmHWM:\s*//p' "/proc/$1/status" 2>/dev/null); still running: $alive"
}

f() { tr ' ' '\n' <"$1" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1; }
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
rowfmt='%-6s %-14s %8s %9s %8s %10s %11s %11s %10s %10s %10s %9s %9s\n'
# row N RUN NAME [RSS_START [BASE_PPS [PLAIN_CPU_S]]]: one table line from
# $work/NAME.gen and .cpu; sets row_secs (the relay's CPU seconds in the
# media run) and row_pps (packets received per CPU-second of it)
row() {
	local n=$1 g="$work/$3.gen" c="$work/$3.cpu" mem="" vs="" vsp=""
	row_secs=$(awk -v t="$(f "$c" cpu_ticks)" -v k="$tck" 'BEGIN { print t / k }')
	row_pps=$(awk -v r="$(f "$g" received)" -v s="$row_secs" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print 0 }')
	[ -n "${4:-}" ] && mem=$(awk -v a="$4" -v b="$(f "$c" rss1)" -v n="$n" 'BEGIN { printf "%.1f kB", (b - a) / n }')
	[ -n "${5:-}" ] && vs=$(awk -v a="$row_pps" -v b="$5" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
	[ -n "${6:-}" ] && vsp=$(awk -v a="$row_secs" -v b="$6" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
	# shellcheck disable=SC2059 # the format is ours
	printf "$rowfmt" "$n" "$2" "$(f "$g" offered_pct) %" "$(f "$g" rx_pps)" \
		"$(f "$g" loss_pct)" "$(f "$g" jitter_mean_us) us" "$(f "$g" transit_p50_us) us" \
		"$(f "$g" transit_p99_us) us" \
		"$(awk -v s="$row_secs" -v m="$MEDIA" -v n="$n" 'BEGIN { printf "%.3f %%", 100 * s / (m + 1) / n }')" \
		"$mem" "$row_pps" "$vs" "$vsp"
}
details() { # details N NAME: one line of the details below the table
	local c="$work/$2.cpu" g="$work/$2.gen" srtp=""
	[ "$(f "$g" srtp)" = 1 ] && srtp=" packets that failed to unprotect $(f "$g" srtp_failed),"
	echo "  $1 $3: active $(f "$c" active), flows $(f "$g" flows), sent $(f "$g" sent), received $(f "$g" received)," \
		"lost $(f "$g" lost), silent flows $(f "$g" silent_flows), jitter max $(f "$g" jitter_max_us) us," \
		"generator CPU $(f "$g" gen_cpu_s) s,$srtp sink socket drops $(f "$g" sink_overflow), ports it could not bind $(f "$g" bind_failures);" \
		"pinbridge relayed $(f "$c" relayed), dropped $(f "$c" dropped); SIPp created $(f "$c" created)," \
		"succeeded $(f "$c" succeeded), failed $(f "$c" failed)"
}
recfmt='%-6s %7s %9s %18s %17s %12s %10s %16s %13s %8s %10s %9s\n'
recrow() { # recrow N: one line of the recording table from $work/pbr-N.rec and .cpu
	local r="$work/pbr-$1.rec" c="$work/pbr-$1.cpu"
	# shellcheck disable=SC2059
	printf "$recfmt" "$1" "$(f "$c" succeeded)" "$(f "$r" recorded)" \
		"$(f "$r" completed) / $(f "$r" partial) / $(f "$r" failed)" \
		"$(f "$r" files) ($(f "$r" exact) exact)" \
		"$(awk -v b="$(f "$r" bytes)" -v ms="$(f "$r" call_ms)" 'BEGIN { if (ms > 0) printf "%.0f", b * 1000 / ms }')" \
		"$(f "$r" queued)" "$(f "$r" dropped) ($(f "$r" dropped_start))" "$(f "$r" peak) / $(f "$r" slots)" "$(f "$r" finish_s) s" \
		"$(awk -v t="$(f "$r" finish_cpu_ticks)" -v k="$tck" 'BEGIN { printf "%.2f s", t / k }')" \
		"$(awk -v d="$(f "$r" disk)" 'BEGIN { printf "%.0f", d / 1e6 }')"
}
recdetails() { # recdetails N: the recording run's line below its table
	local r="$work/pbr-$1.rec"
	echo "  $1: call records $(f "$r" calls), recording in progress after 10 s $(f "$r" pending);" \
		"WAV files missing $(f "$r" missing), largest size difference $(f "$r" worst_off) B, files of no call" \
		"$(f "$r" stray), .part files left $(f "$r" parts); files $(f "$r" bytes) B for $(f "$r" call_ms) ms of calls;" \
		"the recorder's counters: closed $(f "$r" rec_completed) completed, $(f "$r" rec_partial) partial," \
		"$(f "$r" rec_failed) failed, $(f "$r" rec_bytes) B written"
}
report() {
	echo "pinbridge concurrency benchmark ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null))"
	echo "binary: $B/pinbridge ($(date -u -r "$B/pinbridge" '+built %Y-%m-%d %H:%M UTC'); the commit above is the tree's HEAD)"
	echo "machine: $(nproc) cores ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "N direct calls, 20 ms PCMU both ways (172-byte packets, 50/s per direction), ${MEDIA}s per run;"
	echo "generator and sink: rtpgen.c (sendmmsg/recvmmsg, one thread) on the same machine;"
	echo "offered = packets the generator managed to send / the 20 ms schedule (below 100 %: the"
	echo "generator itself was short of CPU, the rate relayed is then what it offered, not the relay's limit);"
	echo "loss is counted against what was sent; jitter = mean per-flow RFC 3550 jitter of the transit times"
	[ -n "$pbs" ] && echo "pinbridge+srtp: SDES-SRTP (AES_CM_128_HMAC_SHA1_80, 182-byte packets) on both legs, a" \
		"second pinbridge; the generator protects and unprotects with libsrtp2 too"
	[ -n "$pbr" ] && echo "pinbridge+rec: the plain run's calls and media through a pinbridge whose tenant records" \
		"every call (record = true)"
	echo "vs plain = the run's CPU per call over plain pinbridge's (CPU over the ${MEDIA}s of media + 1 s, / N)"
	echo
	# shellcheck disable=SC2059
	printf "$rowfmt" N run "offered" "pkts/s" "loss %" "jitter" "transit p50" "transit p99" "CPU/call" \
		"mem/call" "pkts/CPU-s" "vs base" "vs plain"
	local n pps_b secs_p
	for n in $CALLS; do
		row "$n" relay.c "base-$n"
		pps_b=$row_pps
		row "$n" pinbridge "pb-$n" "$rss_start" "$pps_b"
		secs_p=$row_secs
		[ -n "$pbs" ] && row "$n" pinbridge+srtp "pbs-$n" "$rss_start_s" "$pps_b" "$secs_p"
		[ -n "$pbr" ] && row "$n" pinbridge+rec "pbr-$n" "$rss_start_r" "$pps_b" "$secs_p"
	done
	echo
	echo "pinbridge details per N (calls answered before the media run, its own relayed/dropped counters,"
	echo "the caller SIPp's call counts, generator flows that received nothing):"
	for n in $CALLS; do
		details "$n" "pb-$n" pinbridge
		[ -n "$pbs" ] && details "$n" "pbs-$n" pinbridge+srtp
		[ -n "$pbr" ] && details "$n" "pbr-$n" pinbridge+rec
	done
	echo "  mem/call = (pinbridge's RSS with the N calls up - its RSS before the first call, $rss_start kB) / N"
	echo "  pinbridge $(ended "$pb")"
	[ -n "$pbs" ] && echo "  pinbridge+srtp: RSS before the first call $rss_start_s kB, $(ended "$pbs")"
	[ -n "$pbr" ] && echo "  pinbridge+rec: RSS before the first call $rss_start_r kB, $(ended "$pbr")"
	echo
	if [ -n "$pbr" ]; then
		echo "recording (pinbridge+rec): stereo 16-bit 8 kHz WAV, 32,000 B per second of call + 44, in"
		echo "the data dir's recordings/ on $recfs (the data dir's own filesystem, not tmpfs):"
		echo "  $recdir"
		echo "each call lasts about N/$RATE + $((15 + MEDIA + 5)) s, of which ${MEDIA}s have media: the writer writes"
		echo "the silence before the media when the media starts, and the silence after it when the call ends."
		echo "calls = answered (caller SIPp); recorded = call records with a recording; WAV files = found, and"
		echo "of the size their record's answered_at..ended_at gives; queued, dropped = frames (RTP packets)"
		echo "the media workers handed to the recorder's queue or could not (full), in brackets those dropped"
		echo "in the first 2 s of media; finish = last BYE answered -> every file closed (written to its end,"
		echo "synced, renamed), with pinbridge's CPU over it; disk = all that pinbridge sent to the block"
		echo "layer during the run (/proc/PID/io write_bytes: recordings and its store alike)"
		# shellcheck disable=SC2059
		printf "$recfmt" N calls recorded "completed/part/fail" "WAV files" "bytes/call-s" "queued" "dropped" \
			"queue peak" "finish" "finish CPU" "disk MB"
		for n in $CALLS; do recrow "$n"; done
		for n in $CALLS; do recdetails "$n"; done
		echo
	fi
	echo "targets: zero loss at 1,000 calls; pinbridge >= 0.7x the baseline's packets per CPU-second"
}
echo
# The table also lands in BUILD_DIR/bench-concurrency.txt, for pasting into the README.
report | tee "$B/bench-concurrency.txt"
pb_crash_report
if [ -n "$pbs" ]; then
	work=$work_top/srtp pb=$pbs
	pb_crash_report
	work=$work_top
fi
if [ -n "$pbr" ]; then
	work=$work_top/rec pb=$pbr
	pb_crash_report
	work=$work_top
fi
if [ -n "${BENCH_KEEP:-}" ]; then
	rm -rf "$B/bench-conc-work"
	cp -r "$work" "$B/bench-conc-work" && echo "work dir kept in $B/bench-conc-work" >&2
fi
exit 0
