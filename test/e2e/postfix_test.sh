#!/bin/bash
# postfix_test: relaymilter inside a real Postfix (private instance on loopback), driven by a real
# SMTP client (swaks) from different loopback source addresses, with and without real SMTP AUTH.
# Asserts on the replies the client sees AND on both logs: Postfix's milter-reject line and
# relaymilter's own line for the same refusal. Run as root:  postfix_test.sh RELAYMILTER
set -uo pipefail  # no -e: every check counts its own failure and the run goes on
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
. "$here/postfix_lib.sh"
. "$here/checks.sh"
trap 'pf_stop; harness_cleanup' EXIT
[ "$(id -u)" = 0 ] || harness_fail "run as root"

harness_tmpdir
tmp=$HARNESS_TMP
mkdir "$tmp/run"
chown postfix "$tmp/run"  # relaymilter runs as postfix here, so Postfix may use its socket
socket="$tmp/run/relaymilter.sock"
conf="$tmp/relaymilter.conf"
mlog="$tmp/relaymilter.log"
milter_args=(-u postfix)

write_conf() {  # write_conf [EXTRA LINES]
    cat >"$conf" <<CONF
local-domain = example.com
local-domain = [127.0.0.1]
allow-net = 127.0.0.3
internal-address = 127.0.0.5
deny-net = 127.0.0.66
log = stderr
$*
CONF
}

write_conf
milter_start
pf_start "$tmp/pf" "unix:$socket"
echo "Postfix $(postconf -d -h mail_version) on 127.0.0.1:$PF_PORT and 127.0.0.5:$PF_PORT; relaymilter pid $MILTER_PID"
outside=(--local-interface 127.0.0.2)

# --- each decision rule -------------------------------------------------------------------
expect "outside client, foreign recipient: refused" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@gmail.com --quit-after RCPT
wait_log "cat $PF_DIR/maillog" "NOQUEUE: milter-reject: RCPT from unknown[127.0.0.2]: 550 5.7.1 Relaying prohibited; from=<a@b.test> to=<user@gmail.com>"
wait_log "cat $mlog" "reject: client=unknown[127.0.0.2] listener=127.0.0.1 auth=- from=<a@b.test> to=<user@gmail.com> rule=default"

expect "outside client, local recipient: accepted (local-domain)" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@example.com> -> 250" \
    -- "${outside[@]}" --from a@b.test --to user@example.com --quit-after RCPT

expect "allow-net client relays (allow-net)" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 250" \
    -- --local-interface 127.0.0.3 --from a@b.test --to user@gmail.com --quit-after RCPT

expect "outside client on the internal listener relays (internal-address)" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 250" \
    -- "${outside[@]}" --server "127.0.0.5:$PF_PORT" --from a@b.test --to user@gmail.com --quit-after RCPT

expect "authenticated client relays (authenticated)" \
"MAIL FROM:<alice@example.com> -> 250
RCPT TO:<user@gmail.com> -> 250" \
    -- "${outside[@]}" --auth PLAIN --auth-user alice@mx.example.test --auth-password secret \
       --from alice@example.com --to user@gmail.com --quit-after RCPT
grep -q "AUTH PLAIN" <(smtp_raw) && grep -q "235 2.7.0 Authentication successful" <(smtp_raw) ||
    bad "SMTP AUTH did not succeed: $(grep -E 'AUTH|235|535' <(smtp_raw) | head -3)"

expect "wrong password: no AUTH, refused" \
"ERROR *** No authentication type succeeded
MAIL FROM:<alice@example.com> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited" \
    -- "${outside[@]}" --auth PLAIN --auth-user alice@mx.example.test --auth-password wrong \
       --from alice@example.com --to user@gmail.com --quit-after RCPT --auth-optional

expect "deny-net client, even authenticated: refused (deny-net)" \
"MAIL FROM:<alice@example.com> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited" \
    -- --local-interface 127.0.0.66 --auth PLAIN --auth-user alice@mx.example.test --auth-password secret \
       --from alice@example.com --to user@gmail.com --quit-after RCPT
wait_log "cat $PF_DIR/maillog" "NOQUEUE: milter-reject: RCPT from unknown[127.0.0.66]: 550 5.7.1 Relaying prohibited; from=<alice@example.com> to=<user@gmail.com> proto=ESMTP helo=<client.test> sasl_username=<alice@mx.example.test>"
wait_log "cat $mlog" "reject: client=unknown[127.0.0.66] listener=127.0.0.1 auth=alice@mx.example.test from=<alice@example.com> to=<user@gmail.com> rule=deny-net"

expect "deny-net client still mails local domains" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@example.com> -> 250" \
    -- --local-interface 127.0.0.66 --from a@b.test --to user@example.com --quit-after RCPT

expect "null sender gets no exemption" \
"MAIL FROM:<> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited" \
    -- "${outside[@]}" --from '<>' --to user@gmail.com --quit-after RCPT
wait_log "cat $mlog" "reject: client=unknown[127.0.0.2] listener=127.0.0.1 auth=- from=<> to=<user@gmail.com> rule=default"

# --- a local and a foreign recipient in one transaction: the local one is delivered -------
expect "local and foreign recipient in one transaction" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@example.com> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@example.com,user@gmail.com --header "Subject: mixed"
grep -qE "^<-  250 2.0.0 Ok: queued as [0-9A-F]+" <(smtp_raw) || bad "the message to the local recipient was not queued"
queue_id=$(grep -oE "queued as [0-9A-Z]+" <(smtp_raw) | awk '{print $3}')
wait_log "cat $PF_DIR/maillog" "$queue_id: to=<user@example.com>, relay=none" &&
    ok "queue id $queue_id delivered to <user@example.com> only (discarded)"
grep -qF "$queue_id: to=<user@gmail.com>" "$PF_DIR/maillog" && bad "the refused recipient was delivered"

# --- the classic open-relay forms, from an outside client and from an allowed one -----------
open_relay_forms Postfix "$mlog" -- "${outside[@]}"
allowed_forms Postfix -- --local-interface 127.0.0.3

# --- dry-run: 250, and a would-reject line ---------------------------------------------------
write_conf "mode = dry-run"
kill -HUP "$MILTER_PID"
wait_log "cat $mlog" "mode=dry-run"
expect "dry-run: relay attempt accepted" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<dry@gmail.com> -> 250" \
    -- "${outside[@]}" --from a@b.test --to dry@gmail.com --quit-after RCPT
wait_log "cat $mlog" "would-reject: client=unknown[127.0.0.2] listener=127.0.0.1 auth=- from=<a@b.test> to=<dry@gmail.com> rule=default"
write_conf
kill -HUP "$MILTER_PID"
harness_wait_for 10 bash -c "grep 'reload: ' '$mlog' | grep -q 'mode=enforce'" || bad "no reload back to enforce"

# --- fail closed: relaymilter stopped, then killed: 4xx, never 250 --------------------------
harness_stop_pid "$MILTER_PID"
check_down "relaymilter stopped: relay attempt tempfailed" -- "${outside[@]}"
milter_start
expect "relaymilter started again: decisions right at once" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@gmail.com --quit-after RCPT
kill -KILL "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
check_down "relaymilter killed (-9): relay attempt tempfailed" -- "${outside[@]}"
milter_start
expect "relaymilter restarted after kill -9: decisions right at once" \
"MAIL FROM:<a@b.test> -> 250
RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited" \
    -- "${outside[@]}" --from a@b.test --to user@gmail.com --quit-after RCPT

# --- reload under traffic ---------------------------------------------------------------------
# Two client loops keep sessions going (outside client to a foreign recipient) while the conf
# changes: a good conf letting 127.0.0.2 relay, then a bad one. Every session must end in 250 or
# 550 (never a 4xx or a dropped connection); after the good reload sessions get 250, and the
# bad reload changes nothing.
traffic() {  # traffic ID: sessions until $tmp/stop exists
    local i=0
    local SMTP_RAW_FILE="$tmp/traffic-smtp.$1"
    while [ ! -e "$tmp/stop" ] && [ $i -lt 400 ]; do
        i=$((i + 1))
        local r
        r=$(smtp "${outside[@]}" --from a@b.test --to "t$1-$i@gmail.com" --quit-after RCPT | grep -E '^(RCPT|MAIL|ERROR)' | tr '\n' ' ')
        echo "$(date +%s.%N) $r" >>"$tmp/traffic.$1"
    done
}
traffic 1 & t1=$!
traffic 2 & t2=$!
sleep 2
write_conf "allow-net = 127.0.0.2"
kill -HUP "$MILTER_PID"
wait_log "cat $mlog" "reload: $conf: 2 local-domain, 2 allow-net"
good_at=$(date +%s.%N)
sleep 2
printf 'local-domain = example.com\nallow-net = 127.0.0.2/24\n' >"$conf"
kill -HUP "$MILTER_PID"
wait_log "cat $mlog" "reload refused: $conf:2: allow-net: 127.0.0.2/24: host bits set; did you mean 127.0.0.0/24?"
bad_at=$(date +%s.%N)
sleep 2
touch "$tmp/stop"
wait $t1 $t2
sessions=$(cat "$tmp"/traffic.* | wc -l)
odd=$(grep -vE 'RCPT TO:<[^>]*> -> (250|550) ' "$tmp"/traffic.* | wc -l)
early_refusals=$(awk -v t="$good_at" '$1 < t - 0.5 && / -> 550/' "$tmp"/traffic.* | wc -l)
late_refusals=$(awk -v t="$good_at" '$1 > t + 0.5 && / -> 550/' "$tmp"/traffic.* | wc -l)
after_bad=$(awk -v t="$bad_at" '$1 > t && / -> 250/' "$tmp"/traffic.* | wc -l)
after_bad_all=$(awk -v t="$bad_at" '$1 > t' "$tmp"/traffic.* | wc -l)
if [ "$odd" = 0 ] && [ "$early_refusals" -gt 0 ] && [ "$late_refusals" = 0 ] && [ "$after_bad" -gt 0 ] && [ "$after_bad" = "$after_bad_all" ]; then
    ok "reload under traffic: $sessions sessions, none failed; refused before the good reload, accepted after it and after the refused bad one"
else
    bad "reload under traffic: $sessions sessions, $odd failed, $early_refusals refused before the good reload, $late_refusals after it, $after_bad/$after_bad_all accepted after the bad one"
    grep -vE 'RCPT TO:<[^>]*> -> (250|550) ' "$tmp"/traffic.* | head -5
fi

echo
if [ "$failures" -ne 0 ]; then echo "$failures Postfix end-to-end check(s) failed"; exit 1; fi
echo "all Postfix end-to-end checks passed"
