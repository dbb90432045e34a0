# checks.sh: the assertions shared by the MTA end-to-end tests (sourced). Each check prints
# "ok" or "FAIL" and counts failures in $failures, so one run reports every broken case.

failures=0
MILTER_PID=""
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }

# expect LABEL WANT_LINES -- SWAKS ARGS: the MAIL/RCPT replies ("COMMAND -> REPLY" lines, see
# smtp in harness.sh) must start with WANT_LINES, one per line, in order.
expect() {
    local label=$1 want=$2
    shift 3
    local got line g i=0 fail=""
    got=$(smtp "$@" | grep -E '^(MAIL FROM|RCPT TO|ERROR)' || true)
    while IFS= read -r line; do
        i=$((i + 1))
        g=$(sed -n "${i}p" <<<"$got")
        [[ "$g" == "$line"* ]] || fail="line $i: got '$g', want '$line...'"
    done <<<"$want"
    [ "$(wc -l <<<"$got")" = "$(wc -l <<<"$want")" ] || fail="${fail:-got $(wc -l <<<"$got") lines, want $(wc -l <<<"$want")}"
    if [ -n "$fail" ]; then bad "$label: $fail"; echo "$got" | sed 's/^/    /'; else ok "$label"; fi
}

# wait_log COMMAND TEXT: within 10 s, the output of COMMAND ("cat FILE", or a shell function
# such as sm_log) holds a line with TEXT.
wait_log() {
    local command=$1 text=$2 i
    for i in $(seq 1 100); do
        $command 2>/dev/null | grep -qF -- "$text" && return 0
        sleep 0.1
    done
    bad "no log line containing: $text"
    return 1
}

# milter_start: relaymilter in the foreground on the UNIX socket $socket, with conf $conf, log in
# $mlog, binary $bin and extra arguments milter_args (an array, may be unset); sets MILTER_PID.
# It returns once this process has logged its "starting:" line, which it does when it listens
# and takes signals. (The socket file proves nothing: one left by a killed relaymilter is there
# at once.) It fails at once if the process exits, and after 60 s (a big conf on a busy machine).
milter_start() {
    MILTER_LOG_FROM=$(($( (cat "$mlog" 2>/dev/null || true) | wc -l) + 1))  # this start's lines only
    "$bin" -c "$conf" -f -p "unix:$socket" --log stderr ${milter_args[@]+"${milter_args[@]}"} 2>>"$mlog" &
    MILTER_PID=$!
    harness_track "$MILTER_PID"
    local i
    for i in $(seq 1 600); do
        milter_ready && return 0
        milter_alive || harness_fail "relaymilter (pid $MILTER_PID) exited: $(tail -3 "$mlog")"
        sleep 0.1
    done
    harness_fail "relaymilter (pid $MILTER_PID) did not log 'starting:' within 60 s: $(tail -3 "$mlog")"
}
# Running, and not a zombie waiting for us to reap it (kill -0 succeeds on a zombie).
milter_alive() { [ -r "/proc/$MILTER_PID/stat" ] && [ "$(awk '{print $3}' "/proc/$MILTER_PID/stat" 2>/dev/null)" != Z ]; }
milter_ready() {
    tail -n "+$MILTER_LOG_FROM" "$mlog" 2>/dev/null | grep -F "relaymilter[$MILTER_PID]: " |
        grep -qF " starting: socket=unix:$socket "
}

# check_down LABEL -- SWAKS ARGS FOR AN OUTSIDE CLIENT: with relaymilter down, a relay attempt gets
# a 4xx from the MTA (fail closed), never a 250.
check_down() {
    local label=$1 got
    shift 2
    got=$(smtp "$@" --from a@b.test --to user@gmail.com --quit-after RCPT | grep -E '^(MAIL|RCPT)' || true)
    if grep -q '^RCPT.* -> 250' <<<"$got"; then bad "$label: a relay attempt got 250"; echo "$got"; return; fi
    if grep -qE " -> 4[0-9][0-9]" <<<"$got"; then ok "$label: $(grep -E ' -> 4' <<<"$got" | head -1)"; else bad "$label: no 4xx"; echo "$got"; fi
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

# open_relay_forms MTA MILTER_LOG -- SWAKS ARGS FOR AN OUTSIDE CLIENT: every recipient form must
# get a 5xx, from relaymilter (its log has the refusal) or from the MTA itself before the milter
# saw it. When the MTA refuses the form's sender at MAIL (Sendmail: "Real domain name required"
# for antispam@[I]), the recipient is tried again with a plain sender, so it is still tested.
open_relay_forms() {
    local mta=$1 mlog=$2
    shift 3
    local form from rcpt reply n=0 by_milter=0 by_mta=0
    for form in "${OPEN_RELAY_FORMS[@]}"; do
        n=$((n + 1))
        from=${form%%|*}
        rcpt=${form#*|}
        if smtp "$@" --from "$from" --to "$rcpt" --quit-after RCPT | grep -q '^MAIL FROM.* -> 5'; then
            echo "     form $n: $mta refuses the sender <$from> at MAIL; recipient tried with <antispam@example.com>"
            from=antispam@example.com
        fi
        reply=$(smtp "$@" --from "$from" --to "$rcpt" --quit-after RCPT | grep '^RCPT TO' || true)
        if [[ "$reply" != *" -> 5"* ]]; then
            bad "open-relay form $n <$rcpt> from <$from>: got '$reply', want a 5xx"
            continue
        fi
        if harness_wait_for 3 grep -qF "to=<$rcpt> rule=default" "$mlog"; then
            by_milter=$((by_milter + 1))
        else
            by_mta=$((by_mta + 1))
            echo "     form $n <$rcpt>: refused by $mta itself: ${reply#* -> }"
        fi
    done
    [ "$((by_milter + by_mta))" = ${#OPEN_RELAY_FORMS[@]} ] &&
        ok "all ${#OPEN_RELAY_FORMS[@]} open-relay forms refused from outside ($by_milter by relaymilter, $by_mta by $mta first)"
}

# allowed_forms MTA -- SWAKS ARGS FOR AN ALLOWED CLIENT: how many forms get 250.
allowed_forms() {
    local mta=$1
    shift 2
    local form allowed=0
    for form in "${OPEN_RELAY_FORMS[@]}"; do
        [[ "$(smtp "$@" --from a@b.test --to "${form#*|}" --quit-after RCPT | grep '^RCPT TO')" == *" -> 250"* ]] &&
            allowed=$((allowed + 1))
    done
    if [ "$allowed" = ${#OPEN_RELAY_FORMS[@]} ]; then
        ok "all ${#OPEN_RELAY_FORMS[@]} forms accepted from an allowed client"
    else
        ok "from an allowed client, $allowed of ${#OPEN_RELAY_FORMS[@]} forms got 250 ($mta refuses the others for anyone)"
    fi
}
