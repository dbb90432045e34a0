#!/bin/bash
# try-it: builds relaymilter and runs it for real, with conf/relaymilter.conf, behind a throwaway
# Postfix on loopback, then prints what to try. Run as root on Debian 12; safe to run again (the
# previous instance is stopped first). Nothing here touches your own Postfix configuration, and
# every message is discarded. Stop with: contrib/try-it.sh stop
# Its state lives in /run/relaymilter-try-it (TRYIT_DIR), not in the clone: Postfix and
# relaymilter run as user postfix there and must reach it (a clone under /root is mode 700).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
state=${TRYIT_DIR:-/run/relaymilter-try-it}
. "$top/test/lib/harness.sh"
. "$top/test/e2e/postfix_lib.sh"

# Stops the PID in FILE if it is still the program NAME (a stale pid file may name another).
stop_recorded() {
    local file=$1 name=$2 pid
    [ -f "$file" ] || return 0
    pid=$(tr -d ' \n' <"$file")
    if [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$name" ]; then harness_stop_pid "$pid" || true; fi
    rm -f "$file"
}

stop_previous() {
    if [ -f "$state/pf/etc/main.cf" ]; then PF_DIR=$state/pf pf_postfix stop >/dev/null 2>&1 || true; fi
    stop_recorded "$state/run/relaymilter.pid" relaymilter
    stop_recorded "$state/pf/spool/pid/master.pid" master
}

if [ "${1:-}" = stop ]; then
    stop_previous
    echo "try-it: stopped"
    exit 0
fi
[ "$(id -u)" = 0 ] || harness_fail "run as root (it installs packages and starts a private Postfix)"

"$top/contrib/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target relaymilter >/dev/null
stop_previous
rm -rf "$state"
mkdir -p "$state/run"
chmod 755 "$state"
chown postfix "$state/run"  # relaymilter drops root to postfix here, so Postfix may use its socket
conf=$state/relaymilter.conf  # a copy the daemon can reread after dropping root
cp "$top/conf/relaymilter.conf" "$conf"
chmod 644 "$conf"

# If a start fails, stop what was started.
trap 'status=$?; [ $status -eq 0 ] || stop_previous' EXIT
"$build/milter/relaymilter" -c "$conf" -p "unix:$state/run/relaymilter.sock" -u postfix \
    -P "$state/run/relaymilter.pid" --log stderr 2>>"$state/relaymilter.log"
pf_start "$state/pf" "unix:$state/run/relaymilter.sock"

port=$PF_PORT
cat <<MSG

relaymilter $("$build/milter/relaymilter" --version | cut -d' ' -f2) runs (pid $(cat "$state/run/relaymilter.pid")) with a copy of conf/relaymilter.conf,
behind a throwaway Postfix on 127.0.0.1:$port (and 127.0.0.5:$port). Every message is discarded.

Refused with 550 (an outside client, 127.0.0.2, relaying to a foreign domain):
  swaks --server 127.0.0.1:$port --local-interface 127.0.0.2 --from you@outside.test --to someone@gmail.com --quit-after RCPT

Passes (the same client, to a local domain):
  swaks --server 127.0.0.1:$port --local-interface 127.0.0.2 --from you@outside.test --to postmaster@example.com --quit-after RCPT

Passes (127.0.0.1 is an allow-net in conf/relaymilter.conf; or authenticate as alice, password secret):
  swaks --server 127.0.0.1:$port --from you@example.com --to someone@gmail.com --quit-after RCPT
  swaks --server 127.0.0.1:$port --local-interface 127.0.0.2 --auth PLAIN --auth-user alice@mx.example.test --auth-password secret --to someone@gmail.com --quit-after RCPT

Logs:
  Postfix:     $state/pf/maillog   (grep milter-reject)
  relaymilter: $state/relaymilter.log   (grep reject:)

Ask without sending:  $build/milter/relaymilter -c $conf --explain --client 127.0.0.2 --rcpt someone@gmail.com
Edit $conf, then reload:  kill -HUP \$(cat $state/run/relaymilter.pid)
Stop everything:  $top/contrib/try-it.sh stop
MSG
