#!/bin/bash
# memory_test: relaymilter's memory follows the rules in force, not the biggest ones it ever
# loaded. Inside a private Postfix (loopback), each reading of relaymilter's RSS (/proc/PID/status)
# comes after a short load of real SMTP sessions (smtp_load) and once no milter session is left:
#   fresh:            started on a small conf;
#   big -> small:     started on a big conf (500,000 allow-nets), SIGHUP to the small one mid-load;
#   small -> big -> small: two SIGHUPs mid-load.
# Both reloaded ones must be within 2 MiB of the fresh start, read in the same run, and the big
# conf must really have cost memory (8 MiB or more), or the test proves nothing.
# Run as root:  memory_test.sh RELAYMILTER SMTP_LOAD [SANITIZERS]
# With SANITIZERS (the build's, e.g. address,undefined) it exits 77, skipped: ASan keeps freed
# memory in quarantine and its RSS readings (50-67 MiB here, in no order) say nothing of ours.
set -uo pipefail  # no -e: every check counts its own failure
if [ -n "${3:-}" ]; then echo "skipped: built with -fsanitize=$3, whose allocator decides RSS"; exit 77; fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/load_lib.sh"
load_setup "$1" "$2"

sessions=50
seconds=10
small='local-domain = example.com
allow-net = 127.0.0.3
log = stderr'
echo "$small" >"$tmp/small.conf"
# The same rules plus 500,000 allow-nets that do not merge into ranges (every other address).
{ echo "$small"; awk 'BEGIN { for (i = 0; i < 500000; i++) { j = 2 * i
    printf "allow-net = 10.%d.%d.%d\n", int(j / 65536), int(j / 256) % 256, j % 256 } }'; } >"$tmp/big.conf"
echo "big conf: $(grep -c '^allow-net' "$tmp/big.conf") allow-nets, $(($(stat -c %s "$tmp/big.conf") / 1024 / 1024)) MiB"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$MILTER_PID/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
milter_sessions() { ss -Hx state established src "$socket" | wc -l; }
no_milter_session() { [ "$(milter_sessions)" = 0 ]; }
load_done() { [ "$(awk '{print $3}' "/proc/$LOAD_PID/stat" 2>/dev/null || echo Z)" = Z ]; }
# use CONF: make CONF the one relaymilter reads.
use() { cp "$tmp/$1.conf" "$conf"; }
# reload CONF: SIGHUP with CONF in place; waits (up to 60 s) for the reload line.
reloads() { grep -c "reload: $conf" "$mlog"; }
reloaded_since() { [ "$(reloads)" -gt "$1" ]; }
reload() {
    local before
    before=$(reloads)
    use "$1"
    kill -HUP "$MILTER_PID"
    harness_wait_for 60 reloaded_since "$before" || bad "no reload to $1 within 60 s"
}
# load NAME: smtp_load in the background for $seconds; sets LOAD_PID.
load_start() {
    "$load" --server "127.0.0.1:$PF_PORT" --sessions "$sessions" --seconds "$seconds" --out "$tmp/$1.sessions" \
        --auth-user alice@mx.example.test --auth-password secret >"$tmp/$1.summary" 2>&1 &
    LOAD_PID=$!
    harness_track "$LOAD_PID"
}
# load_end NAME: waits for it (bounded), checks every session was decided right, then waits
# (up to 30 s) until no milter session is left, so no session holds an old policy.
load_end() {
    harness_wait_for $((seconds + 60)) load_done || { bad "$1: the load did not end"; kill -KILL "$LOAD_PID"; }
    wait "$LOAD_PID"
    local total right
    total=$(wc -l <"$tmp/$1.sessions")
    right=$(awk '$4 == "ok"' "$tmp/$1.sessions" | wc -l)
    [ "$total" -gt 0 ] && [ "$right" = "$total" ] || bad "$1: $right of $total sessions decided right"
    harness_wait_for 30 no_milter_session || bad "$1: $(milter_sessions) milter sessions still open"
    LOAD_TOTAL=$total
}
stop() { harness_stop_pid "$MILTER_PID" || bad "relaymilter did not stop on SIGTERM"; wait "$MILTER_PID"; }

# Postfix first, relaymilter started for each case (the MTA retries the socket meanwhile).
tuning="default_process_limit = $((sessions + 50))
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
in_flow_delay = 0s"
use small
milter_start
pf_start "$tmp/pf" "unix:$socket" "$tuning"

# fresh: the small conf from the start.
load_start fresh
load_end fresh
fresh=$(rss_kib)
echo "     fresh start on the small conf, after $LOAD_TOTAL sessions: RSS $(mib "$fresh") MiB"
stop

# big -> small.
use big
milter_start
load_start big_small
sleep $((seconds / 2))
big=$(rss_kib)
reload small
load_end big_small
big_small=$(rss_kib)
echo "     started on the big conf: RSS $(mib "$big") MiB under load; after SIGHUP to the small conf and $LOAD_TOTAL sessions: $(mib "$big_small") MiB"
stop

# small -> big -> small.
use small
milter_start
load_start small_big_small
sleep $((seconds / 3))
reload big
reloaded_big=$(rss_kib)
reload small
load_end small_big_small
small_big_small=$(rss_kib)
echo "     small conf, SIGHUP to the big one: RSS $(mib "$reloaded_big") MiB; SIGHUP back to the small one, after $LOAD_TOTAL sessions: $(mib "$small_big_small") MiB"
stop

limit=$((fresh + 2048))
if [ "$big" -ge $((fresh + 8192)) ] && [ "$reloaded_big" -ge $((fresh + 8192)) ]; then
    ok "the big conf costs memory: $(mib "$big") MiB started on it, $(mib "$reloaded_big") MiB reloaded to it, against $(mib "$fresh") MiB"
else
    bad "the big conf cost less than 8 MiB ($(mib "$big") and $(mib "$reloaded_big") MiB against $(mib "$fresh") MiB): the test proves nothing"
fi
for case in big_small small_big_small; do
    value=${!case}
    if [ "$value" -le "$limit" ]; then
        ok "${case//_/ -> }: RSS $(mib "$value") MiB, within 2 MiB of a fresh start on the small conf ($(mib "$fresh") MiB)"
    else
        bad "${case//_/ -> }: RSS $(mib "$value") MiB, more than 2 MiB above a fresh start on the small conf ($(mib "$fresh") MiB)"
    fi
done

echo
if [ "$failures" -ne 0 ]; then echo "$failures memory check(s) failed"; exit 1; fi
echo "all memory checks passed"
