#!/bin/bash
# signal_test: storms of signals at relaymilter under load (a private Postfix on loopback, driven by
# smtp_load) never stop it unless SIGTERM or SIGINT asks, and when asked it stops cleanly.
#   1. SIGHUP bursts with no pause (a shell loop of kill), and SIGSTOP, SIGHUP, SIGCONT cycles (the
#      case where a thread in sigwait() -- libmilter's -- used to take the SIGHUP and stop the
#      milter): it keeps running, reloads, and every session meanwhile is decided right;
#   2. SIGTERM (then SIGINT) followed at once by a burst of SIGHUPs, under load: exit 0 (within
#      60 s, a bound for a busy machine), "stopping on SIGTERM" logged, no reload after it, pid
#      file and socket removed;
#   3. the same stop, ROUNDS more times without load, each on a fresh start.
# It also checks that no relaymilter thread waits in sigwait (rt_sigtimedwait): libmilter's
# signal thread must be parked. Run as root:  signal_test.sh RELAYMILTER SMTP_LOAD [ROUNDS]
set -uo pipefail  # no -e: every check counts its own failure
rounds=${3:-20}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/load_lib.sh"
load_setup "$1" "$2"

sessions=200
pidfile=$tmp/run/relaymilter.pid
milter_args=(-u postfix -P "$pidfile")
# 100,000 allow-nets besides the rules the load needs: each reload takes a while, so signals
# arrive during reloads too.
{ printf 'local-domain = example.com\nallow-net = 127.0.0.3\nlog = stderr\n'
  awk 'BEGIN { for (i = 0; i < 100000; i++) { j = 2 * i
      printf "allow-net = 10.%d.%d.%d\n", int(j / 65536), int(j / 256) % 256, j % 256 } }'; } >"$conf"

# rt_sigtimedwait is syscall 128 on x86-64; /proc/PID/task/*/syscall names each thread's.
sigwaiters() { cat /proc/"$MILTER_PID"/task/*/syscall 2>/dev/null | awk '$1 == 128' | wc -l; }
reloads() { tail -n "+$MILTER_LOG_FROM" "$mlog" | grep -c "reload: $conf"; }
gone() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)" = Z ]; }
# stop_storm SIGNAL NAME: SIGNAL, then 2000 SIGHUPs at once; checks a clean stop of $MILTER_PID.
stop_storm() {
    local sig=$1 name=$2 pid=$MILTER_PID code from=$MILTER_LOG_FROM i
    kill -"$sig" "$pid"
    for i in $(seq 1 2000); do kill -HUP "$pid" 2>/dev/null || break; done
    if ! harness_wait_for 60 gone "$pid"; then
        bad "$name: still running 60 s after SIG$sig"
        return
    fi
    wait "$pid"
    code=$?
    local lines problems=""
    lines=$(tail -n "+$from" "$mlog" | grep -F "relaymilter[$pid]: ")
    [ "$code" = 0 ] || problems+=" exit $code;"
    grep -qF "stopping on SIG$sig" <<<"$lines" || problems+=" no 'stopping on SIG$sig';"
    ! grep -q "ended on its own" <<<"$lines" || problems+=" 'libmilter's main loop ended on its own';"
    ! sed -n "/stopping on/,\$p" <<<"$lines" | grep -q "reload:" || problems+=" reloaded after the stop began;"
    [ ! -e "$socket" ] || problems+=" socket left;"
    [ ! -e "$pidfile" ] || problems+=" pid file left;"
    if [ -z "$problems" ]; then STOP_OK=$((STOP_OK + 1)); else bad "$name:$problems"; fi
}

milter_start
pf_start "$tmp/pf" "unix:$socket" "default_process_limit = $((sessions + 50))
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
in_flow_delay = 0s"
echo "Postfix on 127.0.0.1:$PF_PORT, relaymilter pid $MILTER_PID, $sessions sessions at once"
waiters=$(sigwaiters)
[ "$waiters" = 0 ] && ok "no relaymilter thread waits in sigwait (libmilter's signal thread is parked)" ||
    bad "$waiters relaymilter thread(s) wait in sigwait: libmilter's signal thread could take a signal"

# --- 1. storms that must not stop it ----------------------------------------------------------
"$load" --server "127.0.0.1:$PF_PORT" --sessions "$sessions" --seconds 40 --out "$tmp/storm.sessions" \
    --auth-user alice@mx.example.test --auth-password secret --retry-pause-ms 1000 >"$tmp/storm.summary" 2>&1 &
load_pid=$!
harness_track "$load_pid"
sleep 3
storm_start=$(date +%s%N)
sent=0
for burst in 1 2 3 4 5; do
    for i in $(seq 1 2000); do kill -HUP "$MILTER_PID"; done
    sent=$((sent + 2000))
    sleep 1
done
for i in $(seq 1 300); do
    kill -STOP "$MILTER_PID"; kill -HUP "$MILTER_PID"; kill -CONT "$MILTER_PID"
    sleep 0.01
done
sent=$((sent + 300))
storm_end=$(date +%s%N)
sleep 3
if milter_alive && ! grep -q "ended on its own" "$mlog"; then
    ok "$sent SIGHUPs (5 bursts of 2000 without a pause, 300 while stopped by SIGSTOP): still running, $(reloads) reloads"
else
    bad "relaymilter stopped during the SIGHUP storms: $(tail -3 "$mlog")"
fi
[ "$(reloads)" -ge 6 ] || bad "only $(reloads) reloads for 6 storms"
harness_wait_for 120 gone "$load_pid" || { bad "the load did not end"; kill -KILL "$load_pid"; }
wait "$load_pid"
during=$(awk -v a="$storm_start" -v b="$storm_end" '$1 > a && $2 < b' "$tmp/storm.sessions" | wc -l)
right=$(awk -v a="$storm_start" -v b="$storm_end" '$1 > a && $2 < b && $4 == "ok"' "$tmp/storm.sessions" | wc -l)
if [ "$during" -gt 0 ] && [ "$right" = "$during" ]; then
    ok "all $during sessions during the storms decided right (no tempfail, no error)"
else
    bad "during the storms $right of $during sessions decided right"
    awk -v a="$storm_start" -v b="$storm_end" '$1 > a && $2 < b && $4 != "ok"' "$tmp/storm.sessions" | head -5
fi

# --- 2. stops under load, with SIGHUPs on their heels --------------------------------------------
STOP_OK=0
for sig in TERM INT; do
    [ "$sig" = INT ] && milter_start
    "$load" --server "127.0.0.1:$PF_PORT" --sessions "$sessions" --seconds 8 --out "$tmp/stop.sessions" \
        --retry-pause-ms 1000 >"$tmp/stop.summary" 2>&1 &
    load_pid=$!
    harness_track "$load_pid"
    sleep 4
    stop_storm "$sig" "SIG$sig and 2000 SIGHUPs under load"
    harness_wait_for 60 gone "$load_pid" || kill -KILL "$load_pid"
    wait "$load_pid"
done
[ "$STOP_OK" = 2 ] && ok "under load, SIGTERM and SIGINT each followed by 2000 SIGHUPs: exit 0, pid file and socket removed"

# --- 3. the same stop, many times -------------------------------------------------------------
STOP_OK=0
for round in $(seq 1 "$rounds"); do
    milter_start
    if [ $((round % 2)) = 1 ]; then stop_storm TERM "round $round (SIGTERM)"; else stop_storm INT "round $round (SIGINT)"; fi
done
[ "$STOP_OK" = "$rounds" ] &&
    ok "$rounds fresh starts, each stopped by SIGTERM or SIGINT and 2000 SIGHUPs: all exit 0, clean, 'stopping on' logged"

echo
if [ "$failures" -ne 0 ]; then echo "$failures signal check(s) failed"; exit 1; fi
echo "all signal checks passed"
