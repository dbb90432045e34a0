#!/bin/bash
# store_bench: runs store_bench (the memory store beside the Redis store, per counted recipient)
# against a private redis-server on loopback (TCP and a Unix socket, persistence off), started
# here and stopped by its PID at exit. Prints figures; asserts nothing.
#   test/bench/store_bench.sh BUILD_DIR [--quick]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
. "$here/../lib/redis_lib.sh"
build=${1:?usage: store_bench.sh BUILD_DIR [--quick]}
shift
trap 'redis_stop_all "$HARNESS_TMP"; harness_cleanup' EXIT
trap 'exit 130' INT TERM
harness_tmpdir
port=$(harness_free_port)
redis_start "$HARNESS_TMP" redis "$port" --unixsocket "$HARNESS_TMP/redis.sock" --unixsocketperm 700 ||
    harness_fail "redis-server did not start"
"$build/test/bench/store_bench" --port "$port" --socket "$HARNESS_TMP/redis.sock" "$@"
echo
echo "the Redis side (INFO commandstats: calls, usec per call):"
redis-cli -h 127.0.0.1 -p "$port" info commandstats | grep -E "cmdstat_(evalsha|ping)" | tr -d "\r" || true
