# checks.sh: the assertions shared by the MTA end-to-end and load tests (sourced), and the way
# they start relaymilter. Each check prints "ok" or "FAIL" and counts failures in $failures, so
# one run reports every broken case.

failures=0
MILTER_PID=""
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }

# log_has COMMAND TEXT: within 10 s, the output of COMMAND ("cat FILE", or a shell function such
# as sm_log) holds a line with TEXT. wait_log is the same as a check of its own.
log_has() {
    local command=$1 text=$2 i
    for i in $(seq 1 100); do
        $command 2>/dev/null | grep -qF -- "$text" && return 0
        sleep 0.1
    done
    return 1
}
wait_log() { log_has "$@" || { bad "no log line containing: $2"; return 1; }; }

# milter_start: relaymilter in the foreground on the UNIX socket $socket, with conf $conf, log in
# $mlog, binary $bin and extra arguments milter_args (an array, may be unset); sets MILTER_PID.
# It returns once this process has logged its "starting:" line, which it does when it listens
# and takes signals. (The socket file proves nothing: one left by a killed relaymilter is there
# at once.) It fails at once if the process exits, and after 60 s (a big conf on a busy machine).
milter_start() {
    MILTER_LOG_FROM=$(($( (cat "$mlog" 2>/dev/null || true) | wc -l) + 1))  # this start's lines only
    "$bin" -c "$conf" -f -p "unix:$socket" --log stderr ${milter_args[@]+"${milter_args[@]}"} 2>>"$mlog" &
    MILTER_PID=$!
    harness_track "$MILTER_PID"
    local i
    for i in $(seq 1 600); do
        milter_ready && return 0
        milter_alive || harness_fail "relaymilter (pid $MILTER_PID) exited: $(tail -3 "$mlog")"
        sleep 0.1
    done
    harness_fail "relaymilter (pid $MILTER_PID) did not log 'starting:' within 60 s: $(tail -3 "$mlog")"
}
# Running, and not a zombie waiting for us to reap it (kill -0 succeeds on a zombie).
milter_alive() { [ -r "/proc/$MILTER_PID/stat" ] && [ "$(awk '{print $3}' "/proc/$MILTER_PID/stat" 2>/dev/null)" != Z ]; }
milter_ready() {
    tail -n "+$MILTER_LOG_FROM" "$mlog" 2>/dev/null | grep -F "relaymilter[$MILTER_PID]: " |
        grep -qF " starting: socket=unix:$socket "
}
