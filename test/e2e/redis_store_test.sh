#!/bin/bash
# redis_store_test: runs the Redis store's tests (redis_store_tests, Catch2) against private
# redis-server instances on loopback, persistence off, started here and stopped by their PIDs even
# on failure. Never the system's Redis. Not the MTA tests: those are mta_e2e.sh's.
#   redis_store_test.sh TEST_BINARY [Catch2 arguments]
#   redis_store_test.sh --start DIR NAME PORT [redis-server arguments]   (starts one instance;
#                                       the test calls it to start a killed instance again)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"

# One daemonized redis-server; its PID in DIR/NAME.pid. Returns once it answers, at most 20 s.
start_redis() {
    local dir=$1 name=$2 port=$3 i
    shift 3
    rm -f "$dir/$name.pid"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$dir/$name.pid" --logfile "$dir/$name.log" --dir "$dir" "$@" || return 1
    for i in $(seq 1 200); do
        if [ -s "$dir/$name.pid" ] &&
            redis-cli -h 127.0.0.1 -p "$port" ping 2>&1 | grep -qE 'PONG|NOAUTH'; then
            return 0
        fi
        sleep 0.1
    done
    echo "redis $name on port $port did not start; its log:" >&2
    cat "$dir/$name.log" >&2
    return 1
}

if [ "${1:-}" = "--start" ]; then
    shift
    start_redis "$@"
    exit $?
fi

binary=${1:?usage: redis_store_test.sh TEST_BINARY [Catch2 arguments]}
shift
command -v redis-server >/dev/null || harness_fail "redis-server is not installed (contrib/install-deps.sh installs it)"

# Stops every instance whose pid file is here, if that PID is still a redis-server (never a PID
# that has been reused by something else after a kill -9 in the test).
stop_redis_all() {
    local file pid
    for file in "$HARNESS_TMP"/*.pid; do
        [ -s "$file" ] || continue
        pid=$(cat "$file")
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis-server; then
            harness_stop_pid "$pid"
        fi
    done
}
cleanup() {
    stop_redis_all
    harness_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM
harness_tmpdir

main_port=$(harness_free_port)
main_args=(--unixsocket "$HARNESS_TMP/main.sock" --unixsocketperm 700)
start_redis "$HARNESS_TMP" main "$main_port" "${main_args[@]}" || harness_fail "cannot start the main redis-server"
auth_port=$(harness_free_port)
start_redis "$HARNESS_TMP" auth "$auth_port" --requirepass requirepass-secret ||
    harness_fail "cannot start the requirepass redis-server"
# ACL users: the default user for the test's own checks; relay as an admin would make it (only
# relaymilter's keys, nothing dangerous); nokeys, whose key pattern leaves relaymilter's keys out;
# minimal, with only the commands the store and its scripts use (the list doc/fleet.md gives).
acl_port=$(harness_free_port)
start_redis "$HARNESS_TMP" acl "$acl_port" \
    --user default on '>admin-secret' '~*' '&*' '+@all' \
    --user relay on '>relay-secret' '~relaymilter:*' '+@all' '-@dangerous' \
    --user nokeys on '>nokeys-secret' '~other:*' '+@all' '-@dangerous' \
    --user minimal on '>minimal-secret' '~relaymilter:*' -@all +evalsha '+script|load' +select +time +hmget \
        +hget +hset +hdel +del +pexpire +pttl +zremrangebyscore +zscore +zcard +zadd +zcount ||
    harness_fail "cannot start the ACL redis-server"
dead_port=$(harness_free_port)

export RELAYMILTER_REDIS_PORT=$main_port
export RELAYMILTER_REDIS_SOCKET=$HARNESS_TMP/main.sock
export RELAYMILTER_REDIS_PIDFILE=$HARNESS_TMP/main.pid
export RELAYMILTER_REDIS_RESTART="$(printf '%q ' "$0" --start "$HARNESS_TMP" main "$main_port" "${main_args[@]}")"
export RELAYMILTER_REDIS_AUTH_PORT=$auth_port
export RELAYMILTER_REDIS_ACL_PORT=$acl_port
export RELAYMILTER_REDIS_DEAD_PORT=$dead_port
echo "redis: main on 127.0.0.1:$main_port and $HARNESS_TMP/main.sock, requirepass on $auth_port, ACL on $acl_port"
"$binary" "$@"
