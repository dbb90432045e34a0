#!/bin/bash
# promtool_metrics_test: a scrape of the metrics module (metrics_scrape) must hold every
# relaymilter_* and process_* family, and `promtool check metrics` must find nothing to say
# about it (no format error, no lint problem).
set -uo pipefail
scrape_program=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

"$scrape_program" > "$work/scrape.txt" || fail "metrics_scrape failed"
for family in relaymilter_decisions_total relaymilter_decision_seconds relaymilter_notices_suppressed_total \
    relaymilter_locks_total relaymilter_locked_logins relaymilter_reloads_total relaymilter_rules \
    relaymilter_sessions relaymilter_callback_errors_total relaymilter_store_up relaymilter_store_errors_total \
    relaymilter_build_info process_cpu_seconds_total process_resident_memory_bytes \
    process_virtual_memory_bytes process_start_time_seconds process_open_fds process_max_fds; do
    grep -q "^# TYPE $family " "$work/scrape.txt" || fail "the scrape has no $family"
done
grep -q '^relaymilter_decisions_total{rule="login-locked",verdict="tempfail"} 1$' "$work/scrape.txt" ||
    fail "the scrape lacks decisions_total{rule=\"login-locked\",verdict=\"tempfail\"} 1"
echo "scrape: $(grep -vc '^#' "$work/scrape.txt") samples in $(grep -c '^# TYPE' "$work/scrape.txt") families"

promtool check metrics < "$work/scrape.txt" > "$work/promtool.out" 2>&1
status=$?
if [ $status -ne 0 ] || [ -s "$work/promtool.out" ]; then
    cat "$work/promtool.out"
    fail "promtool check metrics exited $status and said the above"
fi
echo "promtool check metrics: nothing to report"
