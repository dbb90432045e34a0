#!/bin/bash
# run-all: installs what the tests need, builds relaymilter, and runs every test. Run as root on
# Debian 12 (it installs packages and starts private Postfix and Sendmail instances on loopback):
#   ./test/run-all.sh
# Phases, each in its own build directory, all run even when one fails:
#   1. build/        the release build: unit, CLI, miltertest (also under valgrind), Postfix and
#                    Sendmail end to end, load and faults, hardening
#   2. build-asan/   everything built with AddressSanitizer and UndefinedBehaviorSanitizer, the
#                    whole suite again (valgrind and the package tests aside), the MTA end-to-end
#                    tests included
#   3. build-fuzz/   the libFuzzer targets (clang), FUZZ_SECONDS each (default 60)
# Safe to run twice. SKIP_SANITIZERS=1 or SKIP_FUZZ=1 leave a phase out; arguments go to ctest.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
failed=()

phase() { printf '\n=== %s\n' "$*"; }

"$top/contrib/install-deps.sh" || exit 1

phase "1. release build and every test"
if cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build "$build" -j2; then
    (cd "$build" && ctest --output-on-failure --timeout 900 "$@") || failed+=("tests")
else
    failed+=("build")
fi

if [ -z "${SKIP_SANITIZERS:-}" ]; then
    phase "2. AddressSanitizer and UndefinedBehaviorSanitizer build, every test again"
    asan=$top/build-asan
    reports=$asan/sanitizer-reports
    rm -rf "$reports"
    mkdir -p "$reports"
    chmod 1777 "$reports"  # the daemon writes here after dropping root
    export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan:halt_on_error=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
    export LSAN_OPTIONS="suppressions=$top/test/lsan.supp"
    if cmake -S "$top" -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRELAYMILTER_SANITIZE=address,undefined \
           -DRELAYMILTER_BENCH=OFF && cmake --build "$asan" -j2; then
        # valgrind aside (it does not run under ASan), and the package tests: they build and install
        # a release package of their own, the same as in phase 1.
        (cd "$asan" && ctest --output-on-failure --timeout 1200 -LE 'valgrind|package' "$@") || failed+=("sanitizer tests")
        if [ -n "$(ls -A "$reports")" ]; then
            echo "sanitizer reports:"
            head -40 "$reports"/*
            failed+=("sanitizer reports")
        else
            echo "no sanitizer report"
        fi
    else
        failed+=("sanitizer build")
    fi
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
    phase "3. libFuzzer targets, ${FUZZ_SECONDS:-60} s each"
    "$top/test/fuzz/run.sh" "${FUZZ_SECONDS:-60}" "$top/build-fuzz" || failed+=("fuzzing")
fi

echo
if [ ${#failed[@]} -ne 0 ]; then
    echo "run-all: FAILED: ${failed[*]}"
    exit 1
fi
echo "run-all: every test passed"
