#!/bin/bash
# daemon_test: the real relaymilter as a service: detaching, the pid file, the socket's mode and
# owner, dropping root to `user`, and the exit codes when the socket or pid file cannot be made.
# Run as root (it starts the daemon as root and checks that it drops to nobody).
#   daemon_test.sh RELAYMILTER
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
trap harness_cleanup EXIT
[ "$(id -u)" = 0 ] || harness_fail "run as root"

harness_tmpdir
tmp=$HARNESS_TMP
printf 'local-domain = example.com\nlog = stderr\n' >"$tmp/relaymilter.conf"
# As /run/relaymilter in a real install: the daemon's user must be able to remove its files.
mkdir "$tmp/run"
chown nobody "$tmp/run"
ok() { echo "ok   $*"; }

# Detached, as root, told to become nobody: the parent returns 0 once the child is serving.
start=$(date +%s%N)
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/run/relaymilter.sock" -P "$tmp/run/relaymilter.pid" -u nobody \
    2>"$tmp/daemon.log" || harness_fail "detached start exited $?"
pid=$(cat "$tmp/run/relaymilter.pid")
harness_track "$pid"
kill -0 "$pid" || harness_fail "pid file names $pid, which is not running"
[ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = 1 ] || [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] ||
    harness_fail "the daemon did not detach (no new session)"
ok "detached in $(( ($(date +%s%N) - start) / 1000000 )) ms, pid $pid"

uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/"$pid"/status)
[ "$uids" = "65534 65534 65534 65534" ] || harness_fail "uids are '$uids', want nobody (65534) in all four"
gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' /proc/"$pid"/status)
[ "$gids" = "65534 65534 65534 65534" ] || harness_fail "gids are '$gids', want nogroup (65534)"
groups=$(awk '/^Groups:/ {$1 = ""; print}' /proc/"$pid"/status | tr -d ' ')
[ "$groups" = "" ] || [ "$groups" = 65534 ] || harness_fail "supplementary groups '$groups' kept from root"
ok "dropped root: uid/gid nobody, no root groups"

[ "$(stat -c '%a %U %F' "$tmp/run/relaymilter.sock")" = "660 nobody socket" ] ||
    harness_fail "socket is '$(stat -c '%a %U %F' "$tmp/run/relaymilter.sock")', want '660 nobody socket'"
ok "socket mode 0660, owned by nobody"
grep -q "running as root" "$tmp/daemon.log" && harness_fail "warned about root although user was set"

# A second instance on the same pid file refuses to start: 73.
set +e
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/second.sock" -P "$tmp/run/relaymilter.pid" -f 2>"$tmp/second.log"
code=$?
set -e
[ "$code" = 73 ] || harness_fail "second instance exited $code, want 73"
grep -q "relaymilter already runs as pid $pid" "$tmp/second.log" || harness_fail "no 'already runs' reason"
ok "a second instance on the same pid file exits 73: $(grep -o 'pid file.*' "$tmp/second.log")"

# A second instance on the live socket (no pid file to tell): refused, the first keeps its socket.
set +e
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/run/relaymilter.sock" -f 2>"$tmp/steal.log"
code=$?
set -e
[ "$code" = 71 ] || harness_fail "second instance on a live socket exited $code, want 71"
grep -q "another process is listening on it" "$tmp/steal.log" || harness_fail "no reason given"
[ -S "$tmp/run/relaymilter.sock" ] || harness_fail "the running instance lost its socket"
ok "a second instance on a live socket exits 71, the running one keeps it"

# SIGTERM: stops, removes the socket and the pid file.
kill -TERM "$pid"
harness_wait_for 10 bash -c "! kill -0 $pid" || harness_fail "did not stop on SIGTERM"
[ ! -e "$tmp/run/relaymilter.sock" ] || harness_fail "socket left behind"
[ ! -e "$tmp/run/relaymilter.pid" ] || harness_fail "pid file left behind"
ok "stopped on SIGTERM, socket and pid file removed"

# A stale socket file is replaced; a stale pid file (dead pid) too; root without user is warned.
touch "$tmp/stale.pid"; echo 999999 >"$tmp/stale.pid"
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/relaymilter.sock" -P "$tmp/stale.pid" -f 2>"$tmp/root.log" &
pid=$!
harness_track "$pid"
harness_wait_for 10 test -S "$tmp/relaymilter.sock" || harness_fail "no socket"
harness_wait_for 10 grep -q "starting" "$tmp/root.log" || harness_fail "did not start over a stale pid file"
[ "$(cat "$tmp/stale.pid")" = "$pid" ] || harness_fail "stale pid file not replaced"
grep -q "warning: running as root: set 'user = relaymilter'" "$tmp/root.log" || harness_fail "no root warning"
ok "replaced a stale pid file; warned when running as root without user"
harness_stop_pid "$pid"
[ ! -e "$tmp/stale.pid" ] || harness_fail "pid file left behind"

# SIGINT stops it cleanly too.
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/int.sock" -P "$tmp/int.pid" -f 2>"$tmp/int.log" &
pid=$!
harness_track "$pid"
harness_wait_for 10 grep -q "starting" "$tmp/int.log" || harness_fail "did not start"
kill -INT "$pid"
set +e; wait "$pid"; code=$?; set -e
[ "$code" = 0 ] && [ ! -e "$tmp/int.sock" ] && [ ! -e "$tmp/int.pid" ] && grep -q "stopping on SIGINT" "$tmp/int.log" ||
    harness_fail "SIGINT: exit $code, socket or pid file left, or no log line"
ok "SIGINT: a clean stop (exit 0, socket and pid file removed)"

# The listen queue: net.core.somaxconn by default, listen-backlog when set; beyond somaxconn
# the kernel caps it, and the log says so.
somaxconn=$(cat /proc/sys/net/core/somaxconn)
queue_of() { ss -Hlx src "$1" | awk '{print $4}'; }
for want in default 16 $((somaxconn + 1)); do
    printf 'local-domain = example.com\nlog = stderr\n' >"$tmp/backlog.conf"
    [ "$want" = default ] || echo "listen-backlog = $want" >>"$tmp/backlog.conf"
    "$bin" -c "$tmp/backlog.conf" -p "unix:$tmp/backlog.sock" -f 2>"$tmp/backlog.log" &
    pid=$!
    harness_track "$pid"
    harness_wait_for 10 grep -q "starting" "$tmp/backlog.log" || harness_fail "did not start with listen-backlog $want"
    got=$(queue_of "$tmp/backlog.sock")
    case $want in
      default) [ "$got" = "$somaxconn" ] && grep -q "listen-backlog=$somaxconn\$" "$tmp/backlog.log" ||
                   harness_fail "default listen queue $got, want somaxconn $somaxconn" ;;
      16) [ "$got" = 16 ] || harness_fail "listen-backlog = 16 gave a queue of $got" ;;
      *) [ "$got" = "$somaxconn" ] && grep -q "listen-backlog = $want: the kernel caps it at net.core.somaxconn = $somaxconn" "$tmp/backlog.log" ||
             harness_fail "listen-backlog = $want: queue $got, or no warning" ;;
    esac
    harness_stop_pid "$pid"
done
ok "listen queue: somaxconn ($somaxconn) by default, 16 when set so, capped at somaxconn with a warning above it"

# A symlink planted where the pid file goes is not followed.
echo keep >"$tmp/target"
ln -s "$tmp/target" "$tmp/link.pid"
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/relaymilter.sock" -P "$tmp/link.pid" -f 2>"$tmp/link.log" &
pid=$!
harness_track "$pid"
harness_wait_for 10 grep -q "starting" "$tmp/link.log" || harness_fail "did not start"
[ "$(cat "$tmp/target")" = keep ] || harness_fail "wrote through the planted symlink"
[ -f "$tmp/link.pid" ] && [ ! -L "$tmp/link.pid" ] || harness_fail "pid file is not a plain file"
harness_stop_pid "$pid"
ok "a symlink planted as the pid file was replaced, its target untouched"

# A symlink planted where the socket goes is not followed: the start fails, the target is untouched.
echo keep >"$tmp/socket-target"
ln -s "$tmp/socket-target" "$tmp/planted.sock"
set +e
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/planted.sock" -f 2>"$tmp/planted.log"
code=$?
set -e
[ "$code" = 71 ] || { cat "$tmp/planted.log"; harness_fail "a symlink planted as the socket: exit $code, want 71"; }
[ "$(cat "$tmp/socket-target")" = keep ] && [ -f "$tmp/socket-target" ] || harness_fail "the symlink's target was touched"
ok "a symlink planted as the socket (to a plain file) is refused (71), its target untouched"

# The socket cannot be made: 71, with the reason.
set +e
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/no/such/dir/x.sock" -f 2>"$tmp/nosock.log"
code=$?
set -e
[ "$code" = 71 ] || { cat "$tmp/nosock.log"; harness_fail "unmakeable socket exited $code, want 71"; }
grep -q "cannot create the milter socket 'unix:$tmp/no/such/dir/x.sock'" "$tmp/nosock.log" || harness_fail "no reason given"
ok "an unmakeable socket exits 71: $(grep -o "cannot create.*" "$tmp/nosock.log")"

# An unknown user: 78.
set +e
"$bin" -c "$tmp/relaymilter.conf" -p "unix:$tmp/relaymilter.sock" -u no-such-user-here -f 2>"$tmp/nouser.log"
code=$?
set -e
[ "$code" = 78 ] || harness_fail "unknown user exited $code, want 78"
grep -q "user 'no-such-user-here': no such user" "$tmp/nouser.log" || harness_fail "no reason given"
ok "an unknown user exits 78"
echo "all daemon tests passed"
