# Shared by the benchmark scripts (sourced): set-up, scratch space that is
# cleaned up with every process started, free ports, waiting for a server.
# The sourcing script sets B (build dir) and may append to pids.

die() {
	echo "bench: $*" >&2
	exit 1
}

# bench_prepare NAME TOOL...: checks the tools, builds $B (absolute after),
# and makes $work, a scratch dir beside the build, i.e. on the disk ./var
# would use (not /tmp, which may be tmpfs and would flatter every synced
# commit). Everything in pids is killed and $work removed on exit.
bench_prepare() {
	local name=$1 tool
	shift
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool is missing (run: make deps)"
	done
	[ -f "$B/build.ninja" ] || meson setup "$B" || die "meson setup $B failed"
	ninja -C "$B" >/dev/null || die "build of $B failed"
	B=$(cd "$B" && pwd)
	[ -x "$B/pinbridge" ] || die "$B/pinbridge was not built"
	work=$(mktemp -d -p "$B" "bench-$name.XXXXXX") || die "mktemp failed"
	pids=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$work"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # wait_http URL: up to 10 s
	local i
	for i in $(seq 1 100); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	return 1
}

free_udp_on() { # free_udp_on IP: a free UDP port on IP
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; } # user + system

# pb_start: runs $B/pinbridge on $work/pinbridge.conf with its data in
# $work/data, HTTP on a free TCP port ($port) and SIP on a free UDP port
# ($sport) of 127.0.0.1, in $work with core dumps on (if it crashes, the
# script can show where), log in $work/pinbridge.log; sets pb to its pid
# (killed on exit) and waits for /healthz.
pb_start() {
	port=$(free_port)
	sport=$(free_udp_on 127.0.0.1)
	mkdir -p "$work/data"
	(cd "$work" && ulimit -c unlimited 2>/dev/null
	exec "$B/pinbridge" --config "$work/pinbridge.conf" --data "$work/data" --http "127.0.0.1:$port" \
		--sip "127.0.0.1:$sport" >"$work/pinbridge.log" 2>&1) &
	pb=$!
	pids+=("$pb")
	if ! wait_http "http://127.0.0.1:$port/healthz"; then
		cat "$work/pinbridge.log" >&2
		die "pinbridge did not answer /healthz"
	fi
}

# pb_crash_report: if pinbridge died or logged an assertion, prints its
# log's tail and a backtrace from its core dump (stderr).
pb_crash_report() {
	local c
	if ! kill -0 "$pb" 2>/dev/null || grep -qiE 'assert|abort|fatal|crit' "$work/pinbridge.log"; then
		echo "bench: pinbridge log (last 40 lines):" >&2
		tail -n 40 "$work/pinbridge.log" >&2
		for c in "$work"/core*; do
			[ -f "$c" ] && command -v gdb >/dev/null || continue
			echo "bench: pinbridge crashed; backtrace from $c:" >&2
			gdb -batch -ex 'thread apply all bt' "$B/pinbridge" "$c" 2>&1 | grep -E '^(#|Thread|Program)' >&2
		done
	fi
}
