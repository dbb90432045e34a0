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
milter_start() {
    "$bin" -c "$conf" -f -p "unix:$socket" --log stderr ${milter_args[@]+"${milter_args[@]}"} 2>>"$mlog" &
    MILTER_PID=$!
    harness_track "$MILTER_PID"
    harness_wait_for 10 test -S "$socket" || harness_fail "relaymilter did not make its socket"
}
