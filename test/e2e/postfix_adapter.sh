# postfix_adapter.sh: how mta_e2e.sh drives Postfix (sourced): starting and stopping the private
# instance of postfix_lib.sh, where to connect, and how Postfix's replies and log lines read.
# Every adapter defines the same names; mta_e2e.sh uses nothing else of the MTA.

MTA_NAME=Postfix
MTA_INTERNAL_IP=127.0.0.5   # its second listener, the conf's internal-address
# What relaymilter can do about a notice request it must not let through: "rewrites" (Postfix
# applies the NOTIFY of a recipient a milter deletes and adds again), "keeps" (it cannot: the
# recipient is tempfailed), "off" (the MTA offers no DSN, so no request arrives).
MTA_DSN=rewrites
MTA_DELAY_ROUTE=later@example.com  # a local address whose delivery is deferred and retried

mta_start() { PF_IPV6=1 pf_start "$tmp/pf" "unix:$socket"; }
mta_stop() { pf_stop; }

# mta_server main|internal|v6: HOST:PORT to connect to; mta_listener: the address relaymilter logs.
mta_server() {
    case $1 in
    main) echo "127.0.0.1:$PF_PORT" ;;
    internal) echo "$MTA_INTERNAL_IP:$PF_PORT" ;;
    submission) echo "127.0.0.1:$PF_SUBMISSION_PORT" ;;
    v6) echo "[::1]:$PF_PORT" ;;
    esac
}
mta_submission_port() { echo "$PF_SUBMISSION_PORT"; }
mta_listener() {
    case $1 in main | submission) echo 127.0.0.1 ;; internal) echo "$MTA_INTERNAL_IP" ;; v6) echo ::1 ;; esac
}

# The login as the client sends it and as the MTA passes it on ({auth_authen}: with the realm).
mta_login() { echo "$1@mx.example.test"; }
# The client's host name as the MTA passes it (no look-ups: smtpd_peername_lookup = no).
mta_client_name() { echo unknown; }

mta_log() { cat "$PF_DIR/maillog"; }

# The reply to a recipient relaymilter refuses with REPLY (default: reject-reply's), and the MTA's
# log line for it.
mta_refusal() { echo "${2:-550 5.7.1 Relaying prohibited}"; }
mta_reject_line() {  # CLIENT SENDER RCPT [REPLY]
    echo "milter-reject: RCPT from unknown[$1]: ${4:-550 5.7.1 Relaying prohibited}; from=<$2> to=<$3>"
}
# A line the MTA logs while relaymilter is down (empty: none asserted).
MTA_DOWN_LINE=""

# The queue id in the reply to the end of DATA.
mta_queue_id() { sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' <<<"$1"; }
# Waits until the message QID is done with: delivered or bounced, and its notices queued.
mta_wait_done() { harness_wait_for 30 grep -q "]: $1: removed" "$PF_DIR/maillog"; }
# Where QID went for RCPT: LOCAL, RELAYED or nothing.
mta_delivered() {
    grep -F "]: $1: to=<$2>," "$PF_DIR/maillog" | grep -oE 'status=sent \((LOCAL|RELAYED)\)' | head -1 |
        sed -E 's/.*\((.*)\)/\1/'
}
# The notices QID caused, one "KIND:WHERE" line each (success, delay, failure; LOCAL or RELAYED).
mta_notices() {
    local line kind nqid
    grep -E "]: $1: sender (delivery status|delay|non-delivery) notification: " "$PF_DIR/maillog" |
        while read -r line; do
            case $line in
            *"delivery status"*) kind=success ;;
            *delay*) kind=delay ;;
            *) kind=failure ;;
            esac
            nqid=${line##*: }
            harness_wait_for 30 grep -q "]: $nqid: removed" "$PF_DIR/maillog"
            echo "$kind:$(grep -F "]: $nqid: to=<" "$PF_DIR/maillog" | grep -oE 'status=sent \((LOCAL|RELAYED)\)' |
                head -1 | sed -E 's/.*\((.*)\)/\1/')"
        done
}
# How many delivery attempts of QID were deferred so far.
mta_deferrals() { grep -cF "]: $1: to=<" "$PF_DIR/maillog" | tr -d ' '; }
# The MTA's lines for mail it delivered (or would have) to ADDR.
mta_mail_to() { grep -F "to=<$1>," "$PF_DIR/maillog" | grep "status=sent"; }
mta_extra_phases() { :; }
