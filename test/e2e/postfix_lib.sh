# postfix_lib.sh: a private, throwaway Postfix on loopback for end-to-end tests and the demo
# (sourced, not run). Its own config, queue and data directories under one directory, its log
# in a file (maillog_file), chroot off, two SMTP listeners (127.0.0.1:PORT and 127.0.0.5:PORT,
# and [::1]:PORT with PF_IPV6=1), Cyrus SASL against a sasldb of its own (users alice and bob,
# password "secret"; PF_USERS="alice bob carol" names others), a third listener for submission (127.0.0.1:PF_SUBMISSION_PORT), every
# recipient handed to relaymilter through smtpd_milters, and every message
# discarded: nothing leaves. The discard transports say where a message would have gone:
# "status=sent (LOCAL)" for the local domains (example.com, [127.0.0.1]), "status=sent (RELAYED)"
# for any other address, notices included; later@example.com is deferred (nothing listens on
# 127.0.0.1:9) and retried every second, for delay notices (delay_warning_time 1s).
# It does not touch the machine's own Postfix configuration. (Postfix was reported to refuse
# `postfix -c DIR` without /etc/postfix/main.cf; 3.7.11 here did not. pf_postfix makes an empty
# one only for the length of the command, when there is none, and removes it again: an empty
# main.cf left behind would let the system's own Postfix start at boot with default settings.)
# Several instances may run at once (the fleet test runs two): pf_start sets the PF_* variables to
# the instance it started, pf_save NAME keeps them under NAME, pf_use NAME makes that instance the
# current one again, pf_stop_all stops every saved one.
# Needs harness.sh sourced first.

# pf_postfix ARGS...: `postfix -c $PF_DIR/etc ARGS`.
pf_postfix() {
    local made=""
    if [ ! -e /etc/postfix/main.cf ]; then : >/etc/postfix/main.cf; made=1; fi
    postfix -c "$PF_DIR/etc" "$@"
    local status=$?
    [ -z "$made" ] || rm -f /etc/postfix/main.cf
    return $status
}

PF_DIR=""
PF_PORT=""
PF_SUBMISSION_PORT=""
PF_MASTER_PID=""

# pf_start DIR MILTER_SPEC [EXTRA_MAIN_CF_LINES]: configure and start; sets PF_PORT.
# MILTER_SPEC is Postfix's form: unix:/path or inet:127.0.0.1:PORT.
pf_start() {
    PF_DIR=$1
    local milter=$2 extra=${3:-} protocols=ipv4
    [ -z "${PF_IPV6:-}" ] || protocols=all
    PF_PORT=$(harness_free_port)
    PF_SUBMISSION_PORT=$(harness_free_port)
    mkdir -p "$PF_DIR"/{etc/sasl,spool,data,sasldb}
    printf 'later@example.com smtp:[127.0.0.1]:9\nexample.com discard:LOCAL\n[127.0.0.1] discard:LOCAL\n' \
        >"$PF_DIR/etc/transport"
    chmod 755 "$PF_DIR" "$PF_DIR/etc" "$PF_DIR/spool"
    chown postfix "$PF_DIR/data"

    # SMTP AUTH: Debian's Postfix reads $config_directory/sasl/smtpd.conf.
    cat >"$PF_DIR/etc/sasl/smtpd.conf" <<SASL
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $PF_DIR/sasldb/sasldb2
mech_list: PLAIN LOGIN
SASL
    local login
    for login in ${PF_USERS:-alice bob}; do echo secret | saslpasswd2 -p -f "$PF_DIR/sasldb/sasldb2" -c -u mx.example.test "$login"; done
    chown postfix "$PF_DIR/sasldb/sasldb2"
    chmod 640 "$PF_DIR/sasldb/sasldb2"

    cat >"$PF_DIR/etc/main.cf" <<MAIN
# A private test instance: nothing here touches the machine's own Postfix.
compatibility_level = 3.6
config_directory = $PF_DIR/etc
queue_directory = $PF_DIR/spool
data_directory = $PF_DIR/data
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
myhostname = mx.example.test
mydomain = example.test
myorigin = example.com
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = all
inet_protocols = $protocols
smtputf8_enable = no
biff = no
smtpd_banner = \$myhostname ESMTP relaymilter test
# Everything is discarded: no mail leaves this machine (see the top of postfix_lib.sh).
transport_maps = texthash:$PF_DIR/etc/transport
default_transport = discard:RELAYED
relay_transport = discard:RELAYED
local_transport = discard:LOCAL
delay_warning_time = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 1s
queue_run_delay = 1s
# Postfix hands the relay decision to relaymilter (see contrib/postfix/main.cf.snippet).
relay_domains = static:ALL
smtpd_relay_restrictions = permit_auth_destination, reject_unauth_destination
allow_untrusted_routing = yes
smtpd_milters = $milter
milter_default_action = tempfail
milter_protocol = 6
# SMTP AUTH against the private sasldb
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_local_domain = mx.example.test
smtpd_sasl_security_options = noanonymous
# Quick to start and stop, no waiting on DNS
smtp_host_lookup = native
disable_dns_lookups = yes
smtpd_peername_lookup = no
$extra
MAIN
    cat >"$PF_DIR/etc/master.cf" <<MASTER
127.0.0.1:$PF_PORT inet n - n - - smtpd
127.0.0.5:$PF_PORT inet n - n - - smtpd
127.0.0.1:$PF_SUBMISSION_PORT inet n - n - - smtpd
${PF_IPV6:+[::1]:$PF_PORT inet n - n - - smtpd}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
MASTER
    pf_postfix check >"$PF_DIR/start.log" 2>&1 || { cat "$PF_DIR/start.log"; harness_fail "postfix check"; }
    pf_postfix start >>"$PF_DIR/start.log" 2>&1 ||
        { cat "$PF_DIR/start.log"; tail -5 "$PF_DIR/maillog" 2>/dev/null; harness_fail "postfix start"; }
    harness_wait_for 15 test -s "$PF_DIR/spool/pid/master.pid" || { tail -5 "$PF_DIR/maillog"; harness_fail "no master.pid"; }
    PF_MASTER_PID=$(tr -d ' ' <"$PF_DIR/spool/pid/master.pid")
    harness_track "$PF_MASTER_PID"
    harness_wait_for 15 harness_port_open "$PF_PORT" || { cat "$PF_DIR/maillog"; harness_fail "Postfix does not listen on $PF_PORT"; }
    SMTP_SERVER=127.0.0.1:$PF_PORT
}

pf_stop() {
    [ -n "$PF_MASTER_PID" ] || return 0
    pf_postfix stop >/dev/null 2>&1 || true
    harness_wait_for 15 bash -c "! kill -0 $PF_MASTER_PID" || harness_stop_pid "$PF_MASTER_PID"
    PF_MASTER_PID=""
}

# pf_save NAME / pf_use NAME: remember the current instance as NAME, and make NAME current again.
declare -gA PF_SAVED=()
pf_save() { PF_SAVED[$1]="$PF_DIR|$PF_PORT|$PF_SUBMISSION_PORT|$PF_MASTER_PID"; }
pf_use() {
    IFS='|' read -r PF_DIR PF_PORT PF_SUBMISSION_PORT PF_MASTER_PID <<<"${PF_SAVED[$1]}"
    SMTP_SERVER=127.0.0.1:$PF_PORT
}
# pf_stop_all: stops every saved instance (for an EXIT trap; safe to call twice).
pf_stop_all() {
    local name
    for name in "${!PF_SAVED[@]}"; do
        pf_use "$name"
        pf_stop
        pf_save "$name"
    done
}
