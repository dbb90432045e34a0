#!/bin/bash
# metrics_daemon_test: the metrics endpoint of a real relaymilter daemon, without an MTA:
#   - a metrics port already in use stops a second daemon at start, exit 71 with the reason, and
#     the first keeps serving;
#   - a reload changes relaymilter_rules and counts reloads_total{result="ok"}; a refused reload
#     counts reloads_total{result="refused"} and changes no rule count;
#   - the endpoint keeps answering while a conf of 1,000,000 allow-nets is read: scrapes during
#     the reload show the rules still in force, and none fails.
# Run as root (like the other daemon tests):  metrics_daemon_test.sh RELAYMILTER
set -uo pipefail  # no -e: every check counts its own failure
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
. "$here/../e2e/checks.sh"
. "$here/../lib/metrics_lib.sh"
trap harness_cleanup EXIT
[ "$(id -u)" = 0 ] || harness_fail "run as root"

harness_tmpdir
tmp=$HARNESS_TMP
socket=$tmp/relaymilter.sock
conf=$tmp/relaymilter.conf
mlog=$tmp/relaymilter.log
port=$(harness_free_port)
base="local-domain = example.com
log = stderr
metrics = inet:$port@127.0.0.1"
printf '%s\nallow-net = 127.0.0.3\n' "$base" >"$conf"
milter_start
metrics_scrape "$port" "$tmp/start" || harness_fail "no scrape of 127.0.0.1:$port after start"
value() { metrics_value "$tmp/$1" "$2"; }

# --- the metrics port in use ----------------------------------------------------------------------
"$bin" -c "$conf" -f -p "unix:$tmp/second.sock" --log stderr 2>"$tmp/second.log" &
second=$!
harness_track "$second"
harness_wait_for 60 bash -c "! kill -0 $second" || bad "a second daemon on the same metrics port kept running"
wait "$second"
code=$?
reason="cannot serve metrics on inet:$port@127.0.0.1: cannot bind to 127.0.0.1:$port: 98 (Address already in use)"
if [ "$code" = 71 ] && grep -qF "$reason" "$tmp/second.log"; then
    ok "metrics port in use: exit 71, '$reason'"
else
    bad "metrics port in use: exit $code (want 71), said: $(tail -2 "$tmp/second.log")"
fi
metrics_scrape "$port" "$tmp/after_second" && milter_alive &&
    ok "the first daemon still serves metrics" || bad "the first daemon stopped serving metrics"

# --- reloads: ok, then refused ---------------------------------------------------------------------
reloads() { grep -c "reload: $conf\|reload refused: $conf" "$mlog"; }
# reload: SIGHUP with the conf in place, then wait (up to 120 s) for the reload line.
reload() {
    local before
    before=$(reloads)
    kill -HUP "$MILTER_PID"
    harness_wait_for 120 bash -c "[ \$(grep -c 'reload: $conf\|reload refused: $conf' '$mlog') -gt $before ]" ||
        bad "no reload line within 120 s"
}
rules='relaymilter_rules{kind="allow-net"}'
ok_reloads='relaymilter_reloads_total{result="ok"}'
refused_reloads='relaymilter_reloads_total{result="refused"}'
printf '%s\nallow-net = 127.0.0.3\nallow-net = 192.0.2.0/24\nallow-net = 2001:db8::/32\ndeny-net = 127.0.0.66\n' "$base" >"$conf"
reload
metrics_scrape "$port" "$tmp/reloaded" || bad "no scrape after the reload"
got="$(value start "$rules") $(value reloaded "$rules") $(value reloaded 'relaymilter_rules{kind="deny-net"}') $(value start "$ok_reloads") $(value reloaded "$ok_reloads")"
[ "$got" = "1 3 1 0 1" ] && ok "a reload from 1 allow-net to 3 and a deny-net: rules{kind} follow, reloads_total{ok} 0 -> 1" ||
    bad "after a reload to 3 allow-nets and a deny-net: allow-net before, after, deny-net, ok reloads before, after = '$got', want '1 3 1 0 1'"

printf '%s\nallow-net = 127.0.0.3/24\n' "$base" >"$conf"
reload
grep -qF "reload refused: $conf:4: allow-net: 127.0.0.3/24: host bits set" "$mlog" || bad "no 'reload refused' line with the error"
metrics_scrape "$port" "$tmp/refused" || bad "no scrape after the refused reload"
got="$(value refused "$rules") $(value reloaded "$refused_reloads") $(value refused "$refused_reloads") $(value refused "$ok_reloads")"
[ "$got" = "3 0 1 1" ] && ok "a refused reload: reloads_total{refused} 0 -> 1, the rules in force unchanged (3 allow-nets)" ||
    bad "after a refused reload: allow-net, refused before, after, ok = '$got', want '3 0 1 1'"

# --- scrapes while 1,000,000 allow-nets are read --------------------------------------------------
# Every other address of 10.0.0.0/9, so that no two merge into one range.
{ echo "$base"; awk 'BEGIN { for (i = 0; i < 1000000; i++) { j = 2 * i
    printf "allow-net = 10.%d.%d.%d\n", int(j / 65536), int(j / 256) % 256, j % 256 } }'; } >"$tmp/big.conf"
# scraper: one scrape after another until $tmp/stop exists (at most 100,000); each line: START
# (ns) STATUS ALLOW-NETS.
scraper() {
    local i=0 start
    while [ ! -e "$tmp/stop" ] && [ $i -lt 100000 ]; do
        i=$((i + 1))
        start=$(date +%s%N)
        if metrics_scrape "$port" "$tmp/scrape.$i"; then
            echo "$start 200 $(metrics_value "$tmp/scrape.$i" "$rules")"
        else
            echo "$start failed -"
        fi
        rm -f "$tmp/scrape.$i"
    done >"$tmp/scrapes"
}
cp "$tmp/big.conf" "$conf"
scraper &
scraper_pid=$!
harness_track "$scraper_pid"
harness_wait_for 30 test -s "$tmp/scrapes" || bad "the scraper never got an answer"
hup_at=$(date +%s%N)
reload
harness_wait_for 60 bash -c "awk '\$3 == 1000000' '$tmp/scrapes' | grep -q ." || bad "no scrape showed the new rules"
touch "$tmp/stop"
wait "$scraper_pid"
grep -qF "reload: $conf: 1 local-domain, 1000000 allow-net" "$mlog" || bad "the 1,000,000-rule reload was not taken: $(grep 'reload' "$mlog" | tail -1)"
total=$(wc -l <"$tmp/scrapes")
failed=$(awk '$2 != 200' "$tmp/scrapes" | wc -l)
during=$(awk -v t="$hup_at" '$1 > t && $2 == 200 && $3 == 3' "$tmp/scrapes" | wc -l)
after=$(awk -v t="$hup_at" '$1 > t && $2 == 200 && $3 == 1000000' "$tmp/scrapes" | wc -l)
if [ "$failed" = 0 ] && [ "$during" -gt 0 ] && [ "$after" -gt 0 ]; then
    ok "1,000,000-rule reload: $total scrapes, none failed; $during during the reload (3 allow-nets still in force), $after after it (1000000)"
else
    bad "1,000,000-rule reload: $total scrapes, $failed failed, $during during the reload (want > 0), $after after it (want > 0)"
fi

harness_stop_pid "$MILTER_PID" || bad "relaymilter did not stop on SIGTERM"
echo
if [ "$failures" -ne 0 ]; then echo "$failures metrics daemon check(s) failed"; exit 1; fi
echo "all metrics daemon checks passed"
