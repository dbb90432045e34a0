# sendmail_adapter.sh: how mta_e2e.sh drives Sendmail (sourced): the private Sendmail 8.17 of
# sendmail_lib.sh, where to connect, and how Sendmail's replies and log lines read (it puts the
# address in its replies, passes the bare login, and names the mailer in its delivery lines).

MTA_NAME=Sendmail
MTA_INTERNAL_IP=127.0.0.6
# The shipped relaymilter.mc sets PrivacyOptions=noreceipts: Sendmail then offers no DSN.
MTA_DSN=off
MTA_DELAY_ROUTE=""

mta_start() {
    sm_fetch "$cache"
    SM_IPV6=1 sm_config "$tmp/sm" "unix:$socket"
    sm_start
}
mta_stop() { sm_stop; }

mta_server() {
    case $1 in
    main) echo "127.0.0.1:$SM_PORT1" ;;
    internal) echo "$MTA_INTERNAL_IP:$SM_PORT2" ;;
    submission) echo "127.0.0.1:$SM_PORT4" ;;
    v6) echo "[::1]:$SM_PORT3" ;;
    esac
}
mta_submission_port() { echo "$SM_PORT4"; }
mta_listener() {
    case $1 in main | submission) echo 127.0.0.1 ;; internal) echo "$MTA_INTERNAL_IP" ;; v6) echo ::1 ;; esac
}

mta_login() { echo "$1"; }
# The client's host name as the MTA passes it (its test hosts file names ::1 localhost).
mta_client_name() { if [ "$1" = ::1 ]; then echo localhost; else echo unknown; fi; }

mta_log() { sm_log; }

mta_refusal() {  # RCPT [REPLY]: Sendmail puts the address after the codes of a 5xx (not a 4xx)
    local reply=${2:-550 5.7.1 Relaying prohibited}
    if [[ $reply == 5* ]]; then echo "${reply:0:9} <$1>... ${reply:10}"; else echo "$reply"; fi
}
mta_reject_line() { echo "Milter: to=<$3>, reject=${4:-550 5.7.1 Relaying prohibited}"; }
MTA_DOWN_LINE="Milter: initialization failed, temp failing commands"

mta_queue_id() { awk '/Message accepted/ {print $3}' <<<"$1"; }
# Sendmail removes the queue files once a message is delivered and its notices are queued; then
# a marker sent to the log socket behind its lines shows they have all reached the log file.
mta_wait_done() {
    harness_wait_for 30 bash -c "! ls '$SM_RUN/queue/'*'$1' >/dev/null 2>&1" || return 1
    local marker="relaymilter-test-marker-$1-$RANDOM"
    logger -d -u "$SM_RUN/log.sock" "$marker"
    harness_wait_for 10 grep -qF "$marker" "$SM_RUN/maillog.raw"
}
mta_delivered() {
    sm_log | grep -F "]: $1: to=" | grep -F "<$2>" | grep -oE 'mailer=(local|relay)_discard' | head -1 |
        sed -e 's/mailer=local_discard/LOCAL/' -e 's/mailer=relay_discard/RELAYED/'
}
mta_notices() {
    local line kind nqid
    sm_log | grep -E "]: $1: [0-9A-Za-z]+: DSN: " | while read -r line; do
        case $line in
        *"Return receipt"*) kind=success ;;
        *Warning*) kind=delay ;;
        *) kind=failure ;;
        esac
        nqid=$(sed -E "s/.*]: $1: ([0-9A-Za-z]+): DSN: .*/\1/" <<<"$line")
        mta_wait_done "$nqid"
        echo "$kind:$(mta_delivered "$nqid" "$(sm_log | grep -F "]: $nqid: to=<" | head -1 | sed -E 's/.* to=<([^>]*)>.*/\1/')")"
    done
}
mta_deferrals() { :; }
mta_mail_to() { sm_log | grep -E "]: [^ ]+: to=" | grep -F "<$1>" | grep "stat=Sent"; }

# Sendmail with DSN on (the snippet's noreceipts left out): relaymilter cannot drop a notice
# request there, so such a recipient must be tempfailed, while allowed clients keep their receipts.
mta_extra_phases() {
    sm_stop
    SM_KEEP_RECEIPTS=1 SM_IPV6=1 sm_config "$tmp/sm-dsn" "unix:$socket"
    sm_start
    echo "--- Sendmail with DSN offered (PrivacyOptions without noreceipts)"
    MTA_DSN=keeps
    . "$here/notice_cases.sh"
}
