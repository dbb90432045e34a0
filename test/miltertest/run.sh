#!/bin/bash
# run.sh: drives the real relaymilter over a real milter socket with miltertest (OpenDKIM's
# milter test client, scripted in Lua). For one scenario NAME it starts relaymilter on NAME.conf,
# runs NAME.lua, then stops the daemon with SIGTERM and checks it cleaned up after itself.
#   run.sh RELAYMILTER NAME unix|inet|inet6 [valgrind]
# With "valgrind" the daemon runs under valgrind (memcheck), and any error or definite leak fails.
set -euo pipefail
bin=$(realpath "$1")
name=$2
family=${3:-unix}
wrapper=()
if [ "${4:-}" = valgrind ]; then
    wrapper=(valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite
             --show-leak-kinds=definite --track-fds=no --log-file=VALGRIND_LOG)
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
trap harness_cleanup EXIT

harness_tmpdir
tmp=$HARNESS_TMP
cp "$here/$name.conf" "$tmp/relaymilter.conf"
[ ${#wrapper[@]} -eq 0 ] || wrapper=("${wrapper[@]/VALGRIND_LOG/$tmp/valgrind.log}")
case $family in
  unix)  socket="unix:$tmp/relaymilter.sock"; connect=$socket ;;
  inet)  port=$(harness_free_port); socket="inet:$port@127.0.0.1"; connect=$socket ;;
  inet6) port=$(harness_free_port); socket="inet6:$port@[::1]"; connect="inet6:$port@[::1]" ;;
  *) harness_fail "unknown socket family $family" ;;
esac

"${wrapper[@]}" "$bin" -c "$tmp/relaymilter.conf" -f -p "$socket" -P "$tmp/relaymilter.pid" --log stderr 2>"$tmp/relaymilter.log" &
pid=$!
harness_track "$pid"
started() { grep -qF "starting: socket=$socket" "$tmp/relaymilter.log"; }
harness_wait_for 30 started || { cat "$tmp/relaymilter.log"; harness_fail "relaymilter did not start"; }

if [ "$family" = inet6 ]; then
    # miltertest cannot connect to inet6 sockets (it stops without a word): check the listener.
    ss -Hltn "sport = :$port" | grep -qF "[::1]:$port" || harness_fail "not listening on [::1]:$port"
    echo "listening on [::1]:$port (miltertest cannot drive inet6 sockets; the scenario runs over unix and inet)"
    name=none
fi

verbose=()
[ "$name" = reply ] || [ "$name" = notices ] && verbose=(-vv)
set +e
[ "$name" = none ] && touch "$tmp/miltertest.out" || miltertest "${verbose[@]}" -D "SOCKET=$connect" -D "LOG=$tmp/relaymilter.log" -D "CONF=$tmp/relaymilter.conf" \
    -D "PID=$pid" -D "DIR=$here" -s "$here/$name.lua" >"$tmp/miltertest.out" 2>&1
status=$?
set -e
cat "$tmp/miltertest.out"
if [ $status -ne 0 ]; then
    echo "--- relaymilter log ---"; cat "$tmp/relaymilter.log"
    harness_fail "$name.lua failed (miltertest exit $status)"
fi

if [ "$name" = reply ]; then
    # "554 5.7.1 Relaying denied (100%% sure)" and its NUL: libmilter wants '%' doubled.
    want="554 5.7.1 Relaying denied (100%% sure)"
    want_len=$(( ${#want} + 1 ))
    grep -q "mt_milter_read([0-9]*): cmd y, len $want_len\$" "$tmp/miltertest.out" ||
        harness_fail "no reply packet of length $want_len for \"$want\""
    [ "$(grep -c 'cmd y,' "$tmp/miltertest.out")" = 1 ] || harness_fail "want exactly one reply packet"
    echo "reply packet: $want_len bytes, as \"$want\" needs"
fi

if [ "$name" = notices ]; then
    # Each dropped request is one SMFIR_ADDRCPT_PAR ('2') packet: "<user@example.com>\0NOTIFY=FAILURE\0"
    # is 34 bytes. notices.lua drops three and leaves every other recipient alone.
    adds=$(grep -c "mt_milter_read([0-9]*): cmd 2, len" "$tmp/miltertest.out")
    right=$(grep -c "mt_milter_read([0-9]*): cmd 2, len 34\$" "$tmp/miltertest.out")
    [ "$adds" = 3 ] && [ "$right" = 3 ] || harness_fail "want 3 recipients added back with NOTIFY=FAILURE, got $adds packets ($right of 34 bytes)"
    echo "recipients added back: 3 packets of 34 bytes, as <user@example.com> with NOTIFY=FAILURE"
fi

# SIGTERM: a clean stop that removes the pid file and the UNIX socket.
[ "$(cat "$tmp/relaymilter.pid")" = "$pid" ] || harness_fail "pid file does not hold $pid"
kill -TERM "$pid"
harness_wait_for 30 bash -c "! kill -0 $pid" || harness_fail "relaymilter did not stop on SIGTERM"
set +e; wait "$pid"; code=$?; set -e
[ "$code" = 0 ] || { cat "$tmp/relaymilter.log"; harness_fail "exit code $code after SIGTERM, want 0"; }
[ ! -e "$tmp/relaymilter.pid" ] || harness_fail "pid file left behind"
[ "$family" != unix ] || [ ! -e "$tmp/relaymilter.sock" ] || harness_fail "socket left behind"
grep -q "stopping on SIGTERM" "$tmp/relaymilter.log" || harness_fail "no 'stopping on SIGTERM' line"
if [ ${#wrapper[@]} -gt 0 ]; then
    grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable" "$tmp/valgrind.log" | sed 's/^==[0-9]*== /valgrind: /'
    grep -q "ERROR SUMMARY: 0 errors" "$tmp/valgrind.log" || { cat "$tmp/valgrind.log"; harness_fail "valgrind found errors"; }
fi
echo "ok: ${2} over $family${4:+ under $4}, clean SIGTERM stop"
