#!/bin/bash
# store_bench: runs store_bench (the memory store beside the Redis store, per counted recipient)
# against a private redis-server on loopback (TCP and a Unix socket, persistence off), started
# here and stopped by its PID at exit. Prints figures; asserts nothing.
#   test/bench/store_bench.sh BUILD_DIR [--quick]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
build=${1:?usage: store_bench.sh BUILD_DIR [--quick]}
shift
trap harness_cleanup EXIT
trap 'exit 130' INT TERM
harness_tmpdir
port=$(harness_free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$HARNESS_TMP" \
    --unixsocket "$HARNESS_TMP/redis.sock" --unixsocketperm 700 --logfile "$HARNESS_TMP/redis.log" &
harness_track $!
harness_wait_for 20 sh -c "redis-cli -h 127.0.0.1 -p $port ping | grep -q PONG" || harness_fail "redis-server did not start"
"$build/test/bench/store_bench" --port "$port" --socket "$HARNESS_TMP/redis.sock" "$@"
echo
echo "the Redis side (INFO commandstats: calls, usec per call):"
redis-cli -h 127.0.0.1 -p "$port" info commandstats | grep -E "cmdstat_(evalsha|ping)" | tr -d "\r" || true
