#!/usr/bin/env bash
# run-fuzz: runs every libFuzzer harness built from tests/fuzz in BUILD_DIR
# for SECONDS each. A harness that crashes, leaks, times out on an input or
# fails to start is a failure; its reproducer lands in BUILD_DIR/fuzz-artifacts.
# Last line: "N passed, N failed" (one per harness).
#
# Usage: tests/run-fuzz.sh [BUILD_DIR] [SECONDS]   (defaults: build-fuzz 60)
# Seeds: tests/fuzz/seeds/<harness>/ or tests/fuzz/corpus/<harness>/ when
# present; a dictionary tests/fuzz/<harness>.dict when present. The working
# corpus grows in tests/fuzz/corpus-<harness>/ (ignored by git).
set -uo pipefail
exec </dev/null

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
B=${1:-build-fuzz}
secs=${2:-60}
B=$(cd "$B" 2>/dev/null && pwd) || {
	echo "run-fuzz: build directory '${1:-build-fuzz}' does not exist (run: make fuzz)"
	echo "0 passed, 1 failed"
	exit 1
}

passed=0
failed=0
failures=()
summary() {
	echo
	if [ ${#failures[@]} -gt 0 ]; then
		echo "failed:"
		printf '  %s\n' "${failures[@]}"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

# Executables meson defines in tests/fuzz/meson.build: "ninja-target TAB file".
harnesses=$(meson introspect "$B" --targets | /usr/bin/python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and "/tests/fuzz/" in t["defined_in"]:
        for f in t["filename"]:
            print(os.path.relpath(f, sys.argv[1]) + "\t" + f)
' "$B") || harnesses=""
if [ -z "$harnesses" ]; then
	echo "run-fuzz: no harness in tests/fuzz (is it configured with -Dfuzz=true?)"
	failed=1
	failures+=("no fuzz harness in $B")
	summary
fi

# Only the harnesses: the rest of a clang build is gcc's business (-Werror
# there would fail on clang-only warnings that say nothing about fuzzing).
echo "== build ($B)"
if ! ninja -C "$B" $(cut -f1 <<<"$harnesses"); then
	failed=1
	failures+=("build of the fuzz harnesses in $B")
	summary
fi

art="$B/fuzz-artifacts"
mkdir -p "$art"
# ASan/UBSan in the harness: any report aborts the run (libFuzzer saves the input).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
while IFS=$'\t' read -r _ exe; do
	[ -x "$exe" ] || continue
	name=$(basename "$exe")
	corpus="tests/fuzz/corpus-$name"
	mkdir -p "$corpus"
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$art/$name-")
	[ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
	seeds=()
	for d in "tests/fuzz/seeds/$name" "tests/fuzz/corpus/$name" "tests/fuzz/seeds-$name"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	echo "== fuzz: $name for ${secs}s"
	log="$art/$name.log"
	# libFuzzer stops itself at max_total_time; the outer timeout catches a hang.
	timeout --kill-after=10 $((secs + 120)) "$exe" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tail -n 3
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "fuzz: $name ok"
	else
		failed=$((failed + 1))
		failures+=("fuzz $name (status $rc; log $log)")
		echo "fuzz: $name FAILED with status $rc"
		grep -E -A40 '^==[0-9]+==ERROR|runtime error:|^SUMMARY:|deadly signal|Test unit written' \
			"$log" | head -n 80
	fi
done <<<"$harnesses"

summary
