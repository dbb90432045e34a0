#!/bin/bash
# sendmail_test: relaymilter inside a real Sendmail 8.17 (private copy, see sendmail_lib.sh) on
# loopback, driven by swaks from different loopback source addresses, with real SMTP AUTH.
# Asserts on the replies the client sees AND on both logs: Sendmail's "Milter: to=<...>,
# reject=..." line and relaymilter's line. Run as root:  sendmail_test.sh RELAYMILTER [CACHE_DIR]
set -uo pipefail  # no -e: every check counts its own failure and the run goes on
bin=$(realpath "$1")
cache=${2:-$(dirname "$bin")/../sendmail-cache}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
. "$here/sendmail_lib.sh"
. "$here/checks.sh"
trap 'sm_stop; harness_cleanup' EXIT
[ "$(id -u)" = 0 ] || harness_fail "run as root"

harness_tmpdir
tmp=$HARNESS_TMP
socket="$tmp/relaymilter.sock"
conf="$tmp/relaymilter.conf"
mlog="$tmp/relaymilter.log"
cat >"$conf" <<CONF
local-domain = example.com
local-domain = [127.0.0.1]
allow-net = 127.0.0.3
internal-address = 127.0.0.6
deny-net = 127.0.0.66
log = stderr
CONF


sm_fetch "$cache"
sm_config "$tmp/sm" "unix:$socket"
milter_start
sm_start
SMTP_SERVER=127.0.0.1:$SM_PORT1
echo "Sendmail $(dpkg-deb -f "$(ls "$cache"/debs/sendmail-bin_*.deb | tail -n1)" Version) on 127.0.0.1:$SM_PORT1 and 127.0.0.6:$SM_PORT2; relaymilter pid $MILTER_PID"
outside=(--local-interface 127.0.0.2)
smlog="sm_log"

expect "outside client, foreign recipient: refused" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 <user@gmail.com>... Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@gmail.com --quit-after RCPT
wait_log "$smlog" "Milter: to=<user@gmail.com>, reject=550 5.7.1 Relaying prohibited"
wait_log "cat $mlog" "reject: client=unknown[127.0.0.2] listener=127.0.0.1 auth=- from=<a@b.test> to=<user@gmail.com> rule=default"

expect "outside client, local recipient: accepted (local-domain)" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@example.com> -> 250" \
    -- "${outside[@]}" --from a@b.test --to user@example.com --quit-after RCPT

expect "allow-net client relays (allow-net)" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 250" \
    -- --local-interface 127.0.0.3 --from a@b.test --to user@gmail.com --quit-after RCPT

expect "outside client on the second listener relays (internal-address, from {daemon_addr})" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 250" \
    -- "${outside[@]}" --server "127.0.0.6:$SM_PORT2" --from a@b.test --to user@gmail.com --quit-after RCPT

expect "authenticated client relays (authenticated, bare login)" \
"MAIL FROM:<alice@example.com> -> 250
RCPT TO:<user@gmail.com> -> 250" \
    -- "${outside[@]}" --auth PLAIN --auth-user alice --auth-password secret \
       --from alice@example.com --to user@gmail.com --quit-after RCPT
grep -q "235 2.0.0 OK Authenticated" <(smtp_raw) || bad "SMTP AUTH did not succeed: $(grep -E '^<.. *(235|535)' <(smtp_raw))"

expect "deny-net client, even authenticated: refused (deny-net)" \
"MAIL FROM:<alice@example.com> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 <user@gmail.com>... Relaying prohibited" \
    -- --local-interface 127.0.0.66 --auth PLAIN --auth-user alice --auth-password secret \
       --from alice@example.com --to user@gmail.com --quit-after RCPT
wait_log "cat $mlog" "reject: client=unknown[127.0.0.66] listener=127.0.0.1 auth=alice from=<alice@example.com> to=<user@gmail.com> rule=deny-net"

expect "deny-net client still mails local domains" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@example.com> -> 250" \
    -- --local-interface 127.0.0.66 --from a@b.test --to user@example.com --quit-after RCPT

expect "null sender gets no exemption" \
"MAIL FROM:<> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 <user@gmail.com>... Relaying prohibited" \
    -- "${outside[@]}" --from '<>' --to user@gmail.com --quit-after RCPT
wait_log "cat $mlog" "reject: client=unknown[127.0.0.2] listener=127.0.0.1 auth=- from=<> to=<user@gmail.com> rule=default"

expect "local and foreign recipient in one transaction" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@example.com> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 <user@gmail.com>... Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@example.com,user@gmail.com --header "Subject: mixed"
queue_id=$(grep -oE "250 2.0.0 [0-9A-Za-z]+ Message accepted" <(smtp_raw) | awk '{print $3}')
[ -n "$queue_id" ] && wait_log "$smlog" "$queue_id: to=<user@example.com>" &&
    ok "queue id $queue_id delivered to <user@example.com> (discarded)" || bad "the local recipient's message was not accepted"
sm_log | grep -F "$queue_id: to=" | grep -qF "user@gmail.com" && bad "the refused recipient was delivered"

open_relay_forms Sendmail "$mlog" -- "${outside[@]}"
allowed_forms Sendmail -- --local-interface 127.0.0.3

# Fail closed: relaymilter stopped, then killed: 4xx, never 250.
harness_stop_pid "$MILTER_PID"
check_down "relaymilter stopped: relay attempt tempfailed" -- "${outside[@]}"
wait_log "$smlog" "Milter: initialization failed, temp failing commands"
milter_start
expect "relaymilter started again: decisions right at once" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 <user@gmail.com>... Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@gmail.com --quit-after RCPT
kill -KILL "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
check_down "relaymilter killed (-9): relay attempt tempfailed" -- "${outside[@]}"
milter_start
expect "relaymilter restarted after kill -9 (stale socket replaced): decisions right at once" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 <user@gmail.com>... Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@gmail.com --quit-after RCPT

echo
if [ "$failures" -ne 0 ]; then echo "$failures Sendmail end-to-end check(s) failed"; exit 1; fi
echo "all Sendmail end-to-end checks passed"
