#!/bin/bash
# run.sh: builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS from
# its seed corpus (test/fuzz/corpus/TARGET); new inputs go to BUILD_DIR/corpus/TARGET. Prints
# executions per target; exits non-zero on any crash, leak or failed invariant, whose input is
# kept as BUILD_DIR/crash-*.   Run:  test/fuzz/run.sh SECONDS [BUILD_DIR] [TARGET...]
set -euo pipefail
seconds=${1:?usage: run.sh SECONDS [BUILD_DIR] [TARGET...]}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$top/build-fuzz}
shift $(( $# >= 2 ? 2 : 1 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(net recipient conf)

CC=clang CXX=clang++ cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRELAYMILTER_FUZZ=ON \
    -DRELAYMILTER_SANITIZE=address,undefined -DRELAYMILTER_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/%/_fuzz}" >/dev/null

status=0
for target in "${targets[@]}"; do
    mkdir -p "$build/corpus/$target"
    log=$build/fuzz-$target.log
    set +e
    (cd "$build" && "./test/fuzz/${target}_fuzz" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 "corpus/$target" "$top/test/fuzz/corpus/$target") >"$log" 2>&1
    code=$?
    set -e
    runs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log")
    coverage=$(grep -oE "cov: [0-9]+" "$log" | tail -1)
    corpus=$(ls "$build/corpus/$target" | wc -l)
    if [ $code -eq 0 ]; then
        echo "fuzz $target: ${runs:-?} executions in ${seconds} s, no crash; ${coverage:-cov: ?} edges; corpus $corpus inputs"
    else
        echo "fuzz $target: FAILED (exit $code) after ${runs:-?} executions:"
        grep -E "ERROR|SUMMARY|Test unit written|deadly signal" "$log" | head -8 | sed 's/^/    /'
        status=1
    fi
done
exit $status
