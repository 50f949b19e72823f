# pinbridge: a thin wrapper over meson/ninja that also installs what a fresh
# Debian 12 machine lacks, so `make run` and `make test` work from a clean clone.
# The build itself lives in meson.build; nothing here compiles sources directly.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
MAKEFLAGS += --no-print-directory

BUILD        ?= build
ASAN_BUILD   ?= build-asan
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
ARGS         ?=

# Libraries the server links (sofia/spandsp/srtp are for the calls issues;
# installing them now keeps one package list).
BUILD_DEPS := gcc meson ninja-build pkg-config \
	libsofia-sip-ua-dev libspandsp-dev libsrtp2-dev liblmdb-dev libcurl4-openssl-dev \
	libcjson-dev libmicrohttpd-dev libconfig-dev libssl-dev libcmocka-dev
# Test tooling: pytest and SIPp for integration, wrk for the benchmark, clang and
# its runtime for libFuzzer, mdb_stat for poking at a store, tzdata for timezones,
# openssl for the TLS tests' certificates.
TEST_DEPS := python3 python3-pytest sip-tester wrk clang libclang-rt-14-dev \
	lmdb-utils tzdata curl clang-format python3-pylibsrtp openssl
DEPS := $(BUILD_DEPS) $(TEST_DEPS)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT  := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600

ASAN_OPTS := -Db_sanitize=address,undefined -Db_lundef=false
# tests/fuzz/meson.build adds -fsanitize=fuzzer,address,undefined to its harnesses.
FUZZ_OPTS := -Dfuzz=true -Db_lundef=false

# Sanitizer settings for the ASan+UBSan run. tests/run-tests.sh adds a
# log_path under SAN_LOG for each phase: a report makes the process fail and
# also lands in a file, so a server the tests only talk to over HTTP, or one
# that leaks only at exit, still counts as a failure.
SAN_LOG := $(abspath $(ASAN_BUILD))/sanitizer-logs
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	PB_SANITIZER_LOG_DIR=$(SAN_LOG)

# The reference's create example, verbatim body, against the embedded default.
run: export CURL_CREATE := curl -s -w '\n' -u demo-key:demo-token -H 'Content-Type: application/json' \
http://127.0.0.1:8080/v1/tenants/demo/greenpin -d '{"transaction_id": "random_string", \
"a": {"vns": ["6292134471", "6292134464"], "numbers": ["7987686144"], "pin": "123", "pin_length": 2}, \
"b": {"vns": ["6292134465", "6292134464"], "numbers": ["9956555625"], "pin": "234", "pin_length": "3"}, \
"usage": "twoway", "deallocation_policy": {"duration": "1200s"}}'

.PHONY: all deps setup build run test asan asan-build fuzz bench format \
	format-check clean

all: build

# Installs only what is missing; apt-get update runs once, and only then.
deps:
	@missing=""; \
	for p in $(DEPS); do \
		dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then \
			echo "not root and no sudo: install these as root:$$missing" >&2; exit 1; \
		fi; \
		$(APT) update </dev/null && \
		$(APT) install -y --no-install-recommends $$missing </dev/null; \
	fi

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) || meson setup --wipe $(BUILD)

setup: deps $(BUILD)/build.ninja

build: setup
	ninja -C $(BUILD)

# Serves the embedded default (HTTP 127.0.0.1:8080, data in ./var/).
run: build
	@echo "pinbridge: HTTP API on http://127.0.0.1:8080 (embedded default), data in ./var/"
	@echo "tenant demo (key demo-key, token demo-token). Create an allocation from another terminal:"
	@echo
	@printf '  %s\n\n' "$$CURL_CREATE"
	@exec $(BUILD)/pinbridge $(ARGS)

# A failed set-up still ends with the counts line, as one failure.
test:
	@if $(MAKE) setup; then tests/run-tests.sh $(BUILD); \
	else echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; fi

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) $(ASAN_OPTS) || meson setup --wipe $(ASAN_BUILD) $(ASAN_OPTS)

asan-build: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# Unit and integration tests on the ASan+UBSan build.
asan:
	@if $(MAKE) deps $(ASAN_BUILD)/build.ninja; then $(ASAN_ENV) tests/run-tests.sh $(ASAN_BUILD); \
	else echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; fi

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang meson setup $(FUZZ_BUILD) $(FUZZ_OPTS) || \
		CC=clang meson setup --wipe $(FUZZ_BUILD) $(FUZZ_OPTS)

# Each libFuzzer harness of tests/fuzz for FUZZ_SECONDS; a crash is a failure.
fuzz:
	@if $(MAKE) deps $(FUZZ_BUILD)/build.ninja; then tests/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS); \
	else echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; fi

# Figures only, never a gate: see tests/bench/api/run.sh.
bench: build
	tests/bench/api/run.sh $(BUILD)

# Webhook delivery figures, never a gate: see tests/bench/webhooks/run.sh.
.PHONY: bench-webhooks
bench-webhooks: build
	tests/bench/webhooks/run.sh $(BUILD)

# Call figures (call rate, then concurrent calls with media), never a gate:
# see tests/bench/sip/run.sh and tests/bench/sip/concurrency.sh.
.PHONY: bench-calls
bench-calls: build
	tests/bench/sip/run.sh $(BUILD)
	tests/bench/sip/concurrency.sh $(BUILD)

# PIN-flow figures (call rate through the IVR, last digit -> callee INVITE),
# never a gate: see tests/bench/sip/pin.sh. Needs root (SIPp plays the digits'
# pcap from a raw socket).
.PHONY: bench-pin
bench-pin: build
	tests/bench/sip/pin.sh $(BUILD)

format:
	git ls-files '*.c' '*.h' | xargs -r clang-format -i

format-check:
	git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
