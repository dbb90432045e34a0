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
. "$here/../lib/redis_lib.sh"

if [ "${1:-}" = "--start" ]; then
    shift
    redis_start "$@"
    exit $?
fi

binary=${1:?usage: redis_store_test.sh TEST_BINARY [Catch2 arguments]}
shift

cleanup() {
    redis_stop_all "$HARNESS_TMP"
    harness_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM
harness_tmpdir

main_port=$(harness_free_port)
main_args=(--unixsocket "$HARNESS_TMP/main.sock" --unixsocketperm 700)
redis_start "$HARNESS_TMP" main "$main_port" "${main_args[@]}" || harness_fail "cannot start the main redis-server"
auth_port=$(harness_free_port)
redis_start "$HARNESS_TMP" auth "$auth_port" --requirepass requirepass-secret ||
    harness_fail "cannot start the requirepass redis-server"
# ACL users: the default user for the test's own checks; relay as an admin would make it (only
# relaymilter's keys, nothing dangerous); nokeys, whose key pattern leaves relaymilter's keys out;
# minimal, with only the commands the store and its scripts use (the list doc/fleet.md gives).
acl_port=$(harness_free_port)
redis_start "$HARNESS_TMP" acl "$acl_port" \
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
