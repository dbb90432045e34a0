# redis_lib.sh: private redis-server instances for tests and benchmarks (sourced, not run): on
# loopback, persistence off, daemonized with a pid file in a directory of the caller's, stopped
# by that PID. Never the system's Redis. Needs harness.sh sourced first.

# redis_start DIR NAME PORT [redis-server arguments]: one instance, its PID in DIR/NAME.pid and
# its log in DIR/NAME.log. Returns once it answers (PONG, or NOAUTH with a password), at most 20 s.
redis_start() {
    local dir=$1 name=$2 port=$3 i
    shift 3
    command -v redis-server >/dev/null || { echo "redis-server is not installed (contrib/install-deps.sh installs it)" >&2; return 1; }
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

# redis_stop_all DIR: stops every instance whose pid file is in DIR, if that PID is still a
# redis-server (never a PID reused by something else after a kill -9 in a test).
redis_stop_all() {
    local file pid
    for file in "$1"/*.pid; do
        [ -s "$file" ] || continue
        pid=$(cat "$file")
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis-server; then
            harness_stop_pid "$pid"
        fi
    done
}
