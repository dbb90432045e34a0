# harness.sh: shared helpers for the shell test harnesses (sourced, not run).
# Loopback only, bounded waits, and daemons stopped by the PID we started them with, even when
# a test fails (harness_cleanup runs from an EXIT trap).

HARNESS_PIDS=()
HARNESS_TMP=""

harness_fail() { echo "FAIL: $*" >&2; exit 1; }

# Makes $HARNESS_TMP: a temporary directory removed at exit, traversable by other users
# (Postfix, SASL). Call it directly, not in $(...): the variable must reach the caller.
harness_tmpdir() {
    HARNESS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/relaymilter-test.XXXXXX")
    chmod 755 "$HARNESS_TMP"
}

# Remember a PID we started so cleanup stops it.
harness_track() { HARNESS_PIDS+=("$1"); }

# Stops one process we started: SIGTERM, up to 10 s, then SIGKILL.
harness_stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    return 1
}

harness_cleanup() {
    local pid
    for pid in "${HARNESS_PIDS[@]}"; do harness_stop_pid "$pid" >/dev/null 2>&1; done
    if [ -n "$HARNESS_TMP" ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$HARNESS_TMP"; fi
}

# A TCP port nobody listens on, on loopback (v4 and v6), chosen at random in 20000-59999.
harness_free_port() {
    local port i
    for i in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"; return 0
        fi
    done
    harness_fail "no free port found"
}

# Waits until a command succeeds, polling every 0.1 s, for at most SECONDS.
harness_wait_for() {
    local seconds=$1 i
    shift
    for i in $(seq 1 $((seconds * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

harness_port_open() { ss -Hltn "sport = :$1" | grep -q .; }
