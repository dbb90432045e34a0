#!/bin/bash
# mta_e2e: relaymilter inside a real MTA (a private instance on loopback), driven by a real SMTP
# client (smtp_dialog) from loopback source addresses, with real SMTP AUTH, following each message
# to where the MTA delivered it. The cases are one table for every MTA (relay_cases.sh,
# notice_cases.sh, limit_cases.sh, metrics_cases.sh); the MTA's adapter (postfix_adapter.sh,
# sendmail_adapter.sh) says how to reach it and how its replies and log lines read. Each refusal
# is checked in the client's reply, the MTA's log and relaymilter's log. Run as root:
#   mta_e2e.sh postfix|sendmail RELAYMILTER SMTP_DIALOG [SENDMAIL_CACHE_DIR]
set -uo pipefail  # no -e: every check counts its own failure and the run goes on
mta=$1
bin=$(realpath "$2")
dialog=$(realpath "$3")
cache=${4:-$(dirname "$bin")/../sendmail-cache}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
. "$here/checks.sh"
. "$here/../lib/metrics_lib.sh"
case $mta in
postfix) . "$here/postfix_lib.sh" ;;
sendmail) . "$here/sendmail_lib.sh" ;;
*) harness_fail "usage: mta_e2e.sh postfix|sendmail RELAYMILTER SMTP_DIALOG [CACHE]" ;;
esac
. "$here/${mta}_adapter.sh"
trap 'mta_stop; harness_cleanup' EXIT
[ "$(id -u)" = 0 ] || harness_fail "run as root"

harness_tmpdir
tmp=$HARNESS_TMP
mkdir "$tmp/run"
chown postfix "$tmp/run"  # relaymilter runs as postfix here, so Postfix may use its socket
socket="$tmp/run/relaymilter.sock"
conf="$tmp/relaymilter.conf"
mlog="$tmp/relaymilter.log"
milter_args=(-u postfix)
METRICS_PORT=$(harness_free_port)

write_conf() {  # write_conf [EXTRA LINE...]
    cat >"$conf" <<CONF
local-domain = example.com
local-domain = [127.0.0.1]
allow-net = 127.0.0.3
internal-address = $MTA_INTERNAL_IP
deny-net = 127.0.0.66
log = stderr
metrics = inet:$METRICS_PORT@127.0.0.1
CONF
    [ $# -eq 0 ] || printf '%s\n' "$@" >>"$conf"
}

# reload_conf [EXTRA LINES]: the conf with these lines, taken by a SIGHUP (waits for the log line).
reload_conf() {
    local before
    before=$(grep -c "reload: $conf" "$mlog")
    write_conf "$@"
    kill -HUP "$MILTER_PID"
    harness_wait_for 10 bash -c "[ \$(grep -c 'reload: $conf' '$mlog') -gt $before ]" || bad "the reload was not taken"
}

# talk ARGS...: one session by smtp_dialog; its "COMMAND -> REPLY" lines in $TALK.
talk() { TALK=$("$dialog" "$@" 2>&1); }
# The reply to the Nth line of $TALK starting with PREFIX.
reply_to() { grep -E "^$1" <<<"$TALK" | sed -n "${2:-1}p" | sed 's/.* -> //'; }

# The envelope address of "ADDR [PARAMS]", without angle brackets.
address_of() { local a=${1%% *}; a=${a#<}; echo "${a%>}"; }

# session LABEL CLIENT VIA AUTH SENDER QUIT RCPT=WANT...: one session and the checks of each
# recipient's WANT (see relay_cases.sh); sets QUEUE_ID when a message was queued.
session() {
    local label=$1 client=$2 via=$3 auth=$4 sender=$5 quit=$6
    shift 6
    local args=(--server "$(mta_server "$via")" --source "$client" --from "$sender" --header "Subject: $label")
    local login=- password=secret spec rcpt want i=0 got fail=""
    if [ "$auth" != - ]; then
        login=$(mta_login "${auth%%:*}")
        [[ $auth == *:* ]] && password=${auth#*:}
        args+=(--auth "$login:$password")
    fi
    [ "$quit" = yes ] && args+=(--quit-after RCPT)
    for spec in "$@"; do args+=(--to "${spec%=*}"); done
    talk "${args[@]}"
    if [ "$auth" != - ]; then
        got=$(reply_to "AUTH PLAIN")
        if [ "$password" = secret ]; then
            [[ $got == 235* ]] || fail="AUTH got '$got', want 235"
        else
            [[ $got == 535* ]] || fail="AUTH with a wrong password got '$got', want 535"
            login=-
        fi
    fi
    got=$(reply_to "MAIL FROM")
    [[ $got == 250* ]] || fail="${fail:+$fail; }MAIL got '$got', want 250"
    local logged_login=$login
    local from_addr
    from_addr=$(address_of "$sender")
    for spec in "$@"; do
        i=$((i + 1))
        rcpt=$(address_of "${spec%=*}")
        want=${spec##*=}
        got=$(reply_to "RCPT TO" "$i")
        case $want in
        accept | delivered:* | notice-dropped:*)
            if [ "$want" != "${want#notice-dropped}" ] && [ "$MTA_DSN" = keeps ]; then
                [[ $got == 4* ]] || fail="${fail:+$fail; }<$rcpt>: got '$got', want a 4xx (this MTA keeps notice requests)"
                log_has "cat $mlog" "must not be sent, but this MTA keeps a recipient's notice request" ||
                    fail="${fail:+$fail; }no log line for the kept notice request"
            else
                [[ $got == 250* ]] || fail="${fail:+$fail; }<$rcpt>: got '$got', want 250"
            fi
            ;;
        refuse)
            [[ $got == 5* ]] || fail="${fail:+$fail; }<$rcpt>: got '$got', want a 5xx"
            ;;
        refuse:*)
            local rule=${want#refuse:} reply
            reply=${REPLY_FOR[$rule]:-}
            [ "$got" = "$(mta_refusal "$rcpt" "$reply")" ] ||
                fail="${fail:+$fail; }<$rcpt>: got '$got', want '$(mta_refusal "$rcpt" "$reply")'"
            log_has "cat $mlog" "reject: client=$(mta_client_name "$client")[$client] listener=$(mta_listener "$via") auth=$logged_login from=<$from_addr> to=<$rcpt> rule=$rule" ||
                fail="${fail:+$fail; }no relaymilter line for <$rcpt>"
            log_has mta_log "$(mta_reject_line "$client" "$from_addr" "$rcpt" "$reply")" ||
                fail="${fail:+$fail; }no $MTA_NAME line for <$rcpt>"
            ;;
        esac
    done
    QUEUE_ID=""
    if [ "$quit" = no ] && grep -q "^END -> 250" <<<"$TALK"; then QUEUE_ID=$(mta_queue_id "$(reply_to END)"); fi
    if [ -n "$fail" ]; then bad "$label: $fail"; sed 's/^/    /' <<<"$TALK"; return 1; fi
    return 0
}

# relay_case LABEL CLIENT VIA AUTH SENDER RCPT=WANT...: the session ends after RCPT.
relay_case() {
    local label=$1
    session "$1" "$2" "$3" "$4" "$5" yes "${@:6}" && ok "$label"
}

# message_case LABEL CLIENT VIA AUTH SENDER RCPT=WANT... notice=WANT: the whole message, then
# where each recipient and each notice went. notice=none, or notice=KIND:WHERE (success:RELAYED).
message_case() {
    local label=$1 specs=() notice=none spec
    for spec in "${@:6}"; do
        if [[ $spec == notice=* ]]; then notice=${spec#notice=}; else specs+=("$spec"); fi
    done
    session "$1" "$2" "$3" "$4" "$5" no "${specs[@]}" || return
    local fail="" rcpt want where got
    if [ -z "$QUEUE_ID" ]; then
        grep -q "^RCPT.* -> 250" <<<"$TALK" && { bad "$label: no message queued"; sed 's/^/    /' <<<"$TALK"; return; }
        ok "$label (no recipient accepted, no message)"
        return
    fi
    mta_wait_done "$QUEUE_ID" || fail="message $QUEUE_ID not done in 30 s"
    for spec in "${specs[@]}"; do
        rcpt=$(address_of "${spec%=*}")
        want=${spec##*=}
        case $want in
        delivered:* | notice-dropped:*) where=${want#*:} ;;
        *) where="" ;;
        esac
        if [ "$MTA_DSN" = keeps ] && [[ $want == notice-dropped:* ]]; then where=""; fi
        got=$(mta_delivered "$QUEUE_ID" "$rcpt")
        [ "$got" = "$where" ] || fail="${fail:+$fail; }<$rcpt> went to '${got:-nowhere}', want '${where:-nowhere}'"
        if [[ $want == notice-dropped:* ]] && [ "$MTA_DSN" = rewrites ]; then
            grep -qF "notice-suppressed: client=$(mta_client_name "$2")[$2] listener=$(mta_listener "$3")" "$mlog" &&
                grep "notice-suppressed:" "$mlog" | grep -qF "to=<$rcpt>" || fail="${fail:+$fail; }no notice-suppressed line for <$rcpt>"
        fi
    done
    [ "$MTA_DSN" = off ] && notice=none  # the MTA offers no DSN: no request, no notice
    got=$(mta_notices "$QUEUE_ID" | sort | tr '\n' ' ' | sed 's/ $//')
    [ "${got:-none}" = "$notice" ] || fail="${fail:+$fail; }notices: got '${got:-none}', want '$notice'"
    if [ -n "$fail" ]; then bad "$label: $fail"; sed 's/^/    /' <<<"$TALK"; else ok "$label (queue id $QUEUE_ID)"; fi
}

# The classic open-relay recipient forms (Nmap's smtp-open-relay), as "SENDER|RECIPIENT", with
# S = example.com (a local domain) and I = [127.0.0.1] (a local address literal).
OPEN_RELAY_FORMS=(
  "antispam@example.com|relaytest@nmap.scanme.org"
  "<>|relaytest@nmap.scanme.org"
  "antispam@mx.example.test|relaytest@nmap.scanme.org"
  "antispam@[127.0.0.1]|relaytest@nmap.scanme.org"
  "antispam@[127.0.0.1]|relaytest%nmap.scanme.org@[127.0.0.1]"
  "antispam@[127.0.0.1]|relaytest%nmap.scanme.org@example.com"
  'antispam@[127.0.0.1]|"relaytest@nmap.scanme.org"'
  'antispam@[127.0.0.1]|"relaytest%nmap.scanme.org"'
  "antispam@[127.0.0.1]|relaytest@nmap.scanme.org@[127.0.0.1]"
  'antispam@[127.0.0.1]|"relaytest@nmap.scanme.org"@[127.0.0.1]'
  "antispam@[127.0.0.1]|relaytest@nmap.scanme.org@example.com"
  "antispam@[127.0.0.1]|@[127.0.0.1]:relaytest@nmap.scanme.org"
  "antispam@[127.0.0.1]|@example.com:relaytest@nmap.scanme.org"
  "antispam@[127.0.0.1]|nmap.scanme.org!relaytest"
  "antispam@[127.0.0.1]|nmap.scanme.org!relaytest@[127.0.0.1]"
  "antispam@[127.0.0.1]|nmap.scanme.org!relaytest@example.com"
)

# Every open-relay form gets a 5xx from outside, from relaymilter (its log has the refusal) or from
# the MTA itself before the milter saw it. When the MTA refuses the form's sender at MAIL
# (Sendmail: "Real domain name required" for antispam@[I]), the recipient is tried again with a
# plain sender, so it is still tested. From an allowed client, count how many get 250.
open_relay_forms() {
    local form from rcpt got by_milter=0 by_mta=0 allowed=0 n=0
    for form in "${OPEN_RELAY_FORMS[@]}"; do
        n=$((n + 1))
        from=${form%%|*}
        rcpt=${form#*|}
        talk --server "$(mta_server main)" --source 127.0.0.2 --from "$from" --to "$rcpt" --quit-after RCPT
        if [[ $(reply_to "MAIL FROM") == 5* ]]; then
            echo "     form $n: $MTA_NAME refuses the sender <$from> at MAIL; recipient tried with <antispam@example.com>"
            from=antispam@example.com
            talk --server "$(mta_server main)" --source 127.0.0.2 --from "$from" --to "$rcpt" --quit-after RCPT
        fi
        got=$(reply_to "RCPT TO")
        if [[ $got != 5* ]]; then
            bad "open-relay form $n <$rcpt> from <$from>: got '$got', want a 5xx"
            continue
        fi
        if harness_wait_for 3 grep -qF "to=<$rcpt> rule=default" "$mlog"; then
            by_milter=$((by_milter + 1))
        else
            by_mta=$((by_mta + 1))
            echo "     form $n <$rcpt>: refused by $MTA_NAME itself: $got"
        fi
        talk --server "$(mta_server main)" --source 127.0.0.3 --from a@b.test --to "$rcpt" --quit-after RCPT
        [[ $(reply_to "RCPT TO") == 250* ]] && allowed=$((allowed + 1))
    done
    [ "$((by_milter + by_mta))" = ${#OPEN_RELAY_FORMS[@]} ] &&
        ok "all ${#OPEN_RELAY_FORMS[@]} open-relay forms refused from outside ($by_milter by relaymilter, $by_mta by $MTA_NAME first)"
    [ "$by_milter" -gt 0 ] || bad "no open-relay form reached relaymilter"
    if [ "$allowed" = ${#OPEN_RELAY_FORMS[@]} ]; then
        ok "all ${#OPEN_RELAY_FORMS[@]} forms accepted from an allowed client"
    else
        ok "from an allowed client, $allowed of ${#OPEN_RELAY_FORMS[@]} forms got 250 ($MTA_NAME refuses the others for anyone)"
    fi
}

# With relaymilter down, a relay attempt gets a 4xx from the MTA (fail closed), never a 250.
check_down() {
    local label=$1 got
    talk --server "$(mta_server main)" --source 127.0.0.2 --from a@b.test --to user@gmail.com --quit-after RCPT
    if grep -q '^RCPT.* -> 250' <<<"$TALK"; then bad "$label: a relay attempt got 250"; echo "$TALK"; return; fi
    got=$(grep -E '^(CONNECT|EHLO|MAIL|RCPT).* -> 4' <<<"$TALK" | head -1)
    if [ -n "$got" ]; then ok "$label: ${got#* -> }"; else bad "$label: no 4xx"; echo "$TALK"; fi
    [ -z "$MTA_DOWN_LINE" ] || wait_log mta_log "$MTA_DOWN_LINE"
}

refused="user@gmail.com=refuse:default"
declare -A REPLY_FOR=()  # the reply a refusal by RULE gets, when it is not reject-reply's

write_conf
milter_start
mta_start
echo "$MTA_NAME on $(mta_server main), $(mta_server internal) and $(mta_server v6); relaymilter pid $MILTER_PID"

. "$here/relay_cases.sh"
open_relay_forms
. "$here/notice_cases.sh"

# --- delay notices: a deferred local delivery, retried every second ---------------------------------
if [ -n "$MTA_DELAY_ROUTE" ]; then
    session "delay notice asked by an outside client (foreign sender)" 127.0.0.2 main - v-delay@foreign.example no \
        "$MTA_DELAY_ROUTE NOTIFY=DELAY=accept" && outside_qid=$QUEUE_ID
    session "delay notice asked by an allowed client" 127.0.0.3 main - v-delay2@foreign.example no \
        "$MTA_DELAY_ROUTE NOTIFY=DELAY=accept" && allowed_qid=$QUEUE_ID
    # The allowed client's warning arrives once the message is a second old and retried; by the
    # time the outside client's older message has been deferred three times, its warning would
    # have come too.
    if harness_wait_for 60 bash -c "grep -q ']: ${allowed_qid:-none}: sender delay notification: ' '$PF_DIR/maillog'" &&
        harness_wait_for 60 bash -c "[ \$(grep -cF ']: ${outside_qid:-none}: to=<' '$PF_DIR/maillog') -ge 3 ]"; then
        got_allowed=$(mta_notices "$allowed_qid" | sort -u | tr '\n' ' ' | sed 's/ $//')
        got_outside=$(mta_notices "$outside_qid" | sort -u | tr '\n' ' ' | sed 's/ $//')
        [ "$got_allowed" = "delay:RELAYED" ] && [ -z "$got_outside" ] &&
            ok "delay notices: the allowed client's went to the foreign sender ($got_allowed), the outside client's request was dropped (none after $(mta_deferrals "$outside_qid") deferred attempts)" ||
            bad "delay notices: allowed client's '$got_allowed' (want delay:RELAYED), outside client's '$got_outside' (want none)"
    else
        bad "delay notices: no delay notice for the allowed client, or too few retries of the outside client's message"
    fi
fi

. "$here/limit_cases.sh"

# --- an IPv6 client through the MTA's own IPv6 path ---------------------------------------------------
reload_conf "allow-net = ::1"
relay_case "IPv6 client ::1 in allow-net relays" ::1 v6 - a@b.test user@gmail.com=accept
reload_conf
relay_case "IPv6 client ::1, no allow-net: refused" ::1 v6 - a@b.test "$refused"
reload_conf "allow-net = ::1" "deny-net = ::1"
relay_case "IPv6 client ::1 in deny-net, even authenticated: refused" ::1 v6 alice alice@example.com user@gmail.com=refuse:deny-net

# --- dry-run: 250, and a would-reject line ---------------------------------------------------------
reload_conf "mode = dry-run"
relay_case "dry-run: relay attempt accepted" 127.0.0.2 main - a@b.test dry@gmail.com=accept
wait_log "cat $mlog" "would-reject: client=unknown[127.0.0.2] listener=127.0.0.1 auth=- from=<a@b.test> to=<dry@gmail.com> rule=default"
reload_conf

# --- fail closed: relaymilter stopped, then killed: 4xx, never 250 --------------------------------
harness_stop_pid "$MILTER_PID"
check_down "relaymilter stopped: relay attempt tempfailed"
milter_start
relay_case "relaymilter started again: decisions right at once" 127.0.0.2 main - a@b.test "$refused"
kill -KILL "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
check_down "relaymilter killed (-9): relay attempt tempfailed"
milter_start
relay_case "relaymilter restarted after kill -9 (stale socket replaced): decisions right at once" 127.0.0.2 main - a@b.test "$refused"

# --- reload under traffic -------------------------------------------------------------------------
# Two client loops keep sessions going (outside client to a foreign recipient) while the conf
# changes: a good conf letting 127.0.0.2 relay, then a bad one. Every session must end in 250 or
# 550 (never a 4xx or a dropped connection); sessions that ended before the good reload was sent
# were refused, sessions that began after it was taken were accepted, and the bad reload changed
# nothing. Each line: START END REPLIES.
traffic() {  # traffic ID: sessions until $tmp/stop exists
    local i=0 r start
    while [ ! -e "$tmp/stop" ] && [ $i -lt 1000 ]; do
        i=$((i + 1))
        start=$(date +%s.%N)
        r=$("$dialog" --server "$(mta_server main)" --source 127.0.0.2 --from a@b.test --to "t$1-$i@gmail.com" \
            --quit-after RCPT 2>&1 | grep -E '^(RCPT|MAIL|ERROR)' | tr '\n' ' ')
        echo "$start $(date +%s.%N) $r" >>"$tmp/traffic.$1"
    done
}
since() { awk -v t="$1" '$1 > t' "$tmp"/traffic.* 2>/dev/null | wc -l; }  # sessions begun after T
traffic 1 & t1=$!
traffic 2 & t2=$!
harness_wait_for 30 bash -c "[ \$(cat $tmp/traffic.* 2>/dev/null | wc -l) -ge 2 ]"
hup_at=$(date +%s.%N)
reload_conf "allow-net = 127.0.0.2"
good_at=$(date +%s.%N)
harness_wait_for 30 bash -c "[ \$(awk -v t=$good_at '\$1 > t' $tmp/traffic.* | wc -l) -ge 2 ]"
printf 'local-domain = example.com\nallow-net = 127.0.0.2/24\n' >"$conf"
kill -HUP "$MILTER_PID"
wait_log "cat $mlog" "reload refused: $conf:2: allow-net: 127.0.0.2/24: host bits set; did you mean 127.0.0.0/24?"
bad_at=$(date +%s.%N)
harness_wait_for 30 bash -c "[ \$(awk -v t=$bad_at '\$1 > t' $tmp/traffic.* | wc -l) -ge 2 ]"
touch "$tmp/stop"
wait $t1 $t2
sessions=$(cat "$tmp"/traffic.* | wc -l)
odd=$(grep -vE 'RCPT TO:<[^>]*> -> (250|550) ' "$tmp"/traffic.* | wc -l)
early_refusals=$(awk -v t="$hup_at" '$2 < t && / -> 550/' "$tmp"/traffic.* | wc -l)
late_refusals=$(awk -v t="$good_at" '$1 > t && / -> 550/' "$tmp"/traffic.* | wc -l)
after_bad=$(awk -v t="$bad_at" '$1 > t && / -> 250/' "$tmp"/traffic.* | wc -l)
after_bad_all=$(since "$bad_at")
if [ "$odd" = 0 ] && [ "$early_refusals" -gt 0 ] && [ "$late_refusals" = 0 ] && [ "$after_bad" -gt 0 ] && [ "$after_bad" = "$after_bad_all" ]; then
    ok "reload under traffic: $sessions sessions, none failed; $early_refusals refused before the good reload, all $(since "$good_at") begun after it accepted, also the $after_bad_all after the refused bad one"
else
    bad "reload under traffic: $sessions sessions, $odd failed, $early_refusals refused before the good reload, $late_refusals after it, $after_bad/$after_bad_all accepted after the bad one"
    grep -vE 'RCPT TO:<[^>]*> -> (250|550) ' "$tmp"/traffic.* | head -5
fi
reload_conf

. "$here/metrics_cases.sh"

mta_extra_phases

echo
if [ "$failures" -ne 0 ]; then echo "$failures $MTA_NAME end-to-end check(s) failed"; exit 1; fi
echo "all $MTA_NAME end-to-end checks passed"
