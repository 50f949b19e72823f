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
