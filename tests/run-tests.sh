#!/usr/bin/env bash
# run-tests: builds BUILD_DIR and runs every test against it: each cmocka unit
# binary meson registers in suite "unit" (every test case counted) and the
# pytest integration suite on BUILD_DIR/pinbridge (exported as PINBRIDGE_BIN).
# Last line: "N passed, N failed"; exit status 1 when anything failed.
#
# Usage: tests/run-tests.sh [BUILD_DIR]   (default: build)
# Environment:
#   PB_SANITIZER_LOG_DIR  sanitizer build: ASan/UBSan reports are written there
#                         (appended to ASAN_OPTIONS/UBSAN_OPTIONS) and each
#                         report counts as a failure, so a server that only
#                         leaks at exit still fails the run.
#   PB_UNIT_TIMEOUT       seconds per unit binary (default 300)
#   PB_PYTEST_TIMEOUT     seconds for the whole integration suite (default 1200)
#   PB_PYTEST_ARGS        extra pytest arguments (e.g. "-k expiry")
set -uo pipefail
exec </dev/null

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
B=${1:-build}
B=$(cd "$B" 2>/dev/null && pwd) || {
	echo "run-tests: build directory '${1:-build}' does not exist (run: make setup)"
	echo "0 passed, 1 failed"
	exit 1
}

passed=0
failed=0
failures=()
logs="$B/test-logs"
rm -rf "$logs"
mkdir -p "$logs"

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

fail() { # fail COUNT WHAT
	failed=$((failed + $1))
	failures+=("$2")
}

# --- sanitizer report files -------------------------------------------------
san_dir=${PB_SANITIZER_LOG_DIR:-}
if [ -n "$san_dir" ]; then
	rm -rf "$san_dir"
	mkdir -p "$san_dir"
	san_base_asan=${ASAN_OPTIONS:-}
	san_base_ubsan=${UBSAN_OPTIONS:-}
fi

# Points sanitizer reports of the processes started next at $san_dir/$1.*
san_phase() {
	[ -n "$san_dir" ] || return 0
	export ASAN_OPTIONS="${san_base_asan:+$san_base_asan:}log_path=$san_dir/$1.asan"
	export UBSAN_OPTIONS="${san_base_ubsan:+$san_base_ubsan:}log_path=$san_dir/$1.ubsan"
}

# Prints and counts the reports of phase $1; echoes how many there were.
san_reports() {
	local n=0 f
	[ -n "$san_dir" ] || { echo 0; return; }
	for f in "$san_dir/$1".*; do
		[ -s "$f" ] || continue
		# LeakSanitizer lists the suppressions it used even when it found
		# nothing else: that alone is no report.
		grep -qE 'ERROR|WARNING|SUMMARY|runtime error' "$f" || continue
		n=$((n + 1))
		{
			echo "---- sanitizer report $(basename "$f") ----"
			head -n 80 "$f"
		} >&2
	done
	echo "$n"
}

# --- build ------------------------------------------------------------------
echo "== build ($B)"
if ! ninja -C "$B"; then
	fail 1 "build of $B"
	summary
fi

# --- unit (cmocka) ----------------------------------------------------------
# Test list from meson, so a new tests/unit/test_*.c is picked up without
# touching this script. One line per test: name TAB shell-quoted command.
unit_list=$(meson introspect "$B" --tests | /usr/bin/python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin):
    if any(s == "unit" or s.endswith(":unit") for s in t.get("suite", [])):
        print(t["name"] + "\t" + shlex.join(t["cmd"]))
') || {
	fail 1 "meson introspect $B --tests"
	unit_list=""
}

upassed=0
ufailed=0
export CMOCKA_MESSAGE_OUTPUT=stdout
while IFS=$'\t' read -r name cmd; do
	[ -n "$name" ] || continue
	echo "== unit: $name"
	san_phase "unit-$name"
	log="$logs/unit-$name.log"
	timeout --kill-after=10 "${PB_UNIT_TIMEOUT:-300}" bash -c "$cmd" </dev/null >"$log" 2>&1
	rc=$?
	cat "$log"
	# cmocka prints one summary per group; sum them all.
	# A group whose setup fails reports its cases neither passed nor failed:
	# count every announced case that did not pass (and was not skipped).
	read -r p f < <(awk '
		/^\[==========\] Running [0-9]+ test\(s\)/ { run += $3 }
		/^\[  PASSED  \] [0-9]+ test\(s\)/ { pass += $4 }
		/^\[  FAILED  \] [0-9]+ test\(s\)/ { fail += $4 }
		/^\[  SKIPPED \] [0-9]+ test\(s\)/ { skip += $4 }
		END {
			if (run - pass - skip > fail) fail = run - pass - skip
			print pass + 0, fail + 0
		}' "$log")
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$rc" -eq 0 ] && ! grep -q '^\[==========\]' "$log"; then
		p=1 # not a cmocka binary: one test, judged by its exit status
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Crashed, timed out (124) or failed after its summary (sanitizer at exit).
		f=1
		[ "$rc" -eq 124 ] && echo "unit: $name timed out"
		echo "unit: $name exited with status $rc"
	fi
	s=$(san_reports "unit-$name")
	if [ "$s" -gt 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	[ "$f" -gt 0 ] && fail "$f" "unit $name ($f case(s); log $log)"
	upassed=$((upassed + p))
	ufailed=$((ufailed + f))
done <<<"$unit_list"
passed=$((passed + upassed))
echo "unit: $upassed passed, $ufailed failed"

# --- integration (pytest, real binary) --------------------------------------
export PINBRIDGE_BIN="$B/pinbridge"
export PINBRIDGE_BUILD_DIR="$B"
ipassed=0
ifailed=0
if compgen -G "tests/integration/test_*.py" >/dev/null ||
	compgen -G "tests/integration/*_test.py" >/dev/null; then
	echo "== integration: PINBRIDGE_BIN=$PINBRIDGE_BIN"
	san_phase integration
	log="$logs/integration.log"
	# shellcheck disable=SC2086
	timeout --kill-after=30 "${PB_PYTEST_TIMEOUT:-1200}" \
		/usr/bin/python3 -m pytest tests/integration -p no:cacheprovider -rfE \
		${PB_PYTEST_ARGS:-} 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# pytest's closing line, e.g. "==== 2 failed, 40 passed, 1 error in 9.1s ====".
	last=$(grep -E '^=+ .*[0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?|no tests ran).* in [0-9.]+s' "$log" | tail -n 1)
	count() { sed -n "s/.*[^0-9]\([0-9]\+\) $1[,  ].*/\1/p" <<<" $last " | head -n 1; }
	ipassed=$(($(count passed) + 0))
	ifailed=$(($(count failed) + $(count errors) + $(count error) + 0))
	case $rc in
	0 | 5) ;; # 5: no tests collected, not a failure by itself
	1) [ "$ifailed" -gt 0 ] || ifailed=1 ;;
	124 | 137)
		echo "integration: timed out after ${PB_PYTEST_TIMEOUT:-1200}s"
		ifailed=$((ifailed + 1))
		;;
	*)
		# Interrupted (collection error), internal or usage error.
		echo "integration: pytest exited with status $rc"
		[ "$ifailed" -gt 0 ] || ifailed=1
		;;
	esac
	s=$(san_reports integration)
	if [ "$s" -gt 0 ]; then
		echo "integration: $s sanitizer report(s) from the server"
		ifailed=$((ifailed + s))
	fi
	[ "$ifailed" -gt 0 ] && fail "$ifailed" "integration ($ifailed; log $log)"
	passed=$((passed + ipassed))
else
	echo "== integration: no tests in tests/integration yet"
fi
echo "integration: $ipassed passed, $ifailed failed"

summary
