# sendmail_lib.sh: a private, throwaway Sendmail 8.17 on loopback for end-to-end tests (sourced,
# not run). Debian's sendmail packages conflict with Postfix, so they are never installed: the
# .debs are downloaded and unpacked into a private prefix (cached), the binary's setgid bit is
# cleared (a setgid binary ignores LD_LIBRARY_PATH), and the .cf is built from an .mc with the
# private m4 files. It runs in the foreground (-bD) inside `unshare -m -u` (sendmail_ns.sh),
# listens on 127.0.0.1:PORT1 and 127.0.0.6:PORT2, 127.0.0.1:PORT4 for submission (and [::1]:PORT3
# with SM_IPV6=1), authenticates alice and bob (password secret) through a private sasldb, hands every recipient to relaymilter (F=T: fail closed)
# and discards every message, logging where it would have gone (mailer=local_discard for its
# local names, mailer=relay_discard for the rest). SM_KEEP_RECEIPTS=1 leaves out the snippet's
# PrivacyOptions=noreceipts, to see what relaymilter does when Sendmail offers DSN.
# Its syslog lines go to a socat receiver; read them with sm_log. Needs harness.sh sourced first.

SM_RUN=""
SM_PID=""
SM_PORT1=""
SM_PORT2=""
SM_PORT3=""
SM_PORT4=""
SM_LOGGER_PID=""
SM_PACKAGES=(sendmail-bin sendmail-base sendmail-cf liblockfile1 libwrap0 m4)

# sm_fetch CACHE: download and unpack the packages once; sets SM_PREFIX.
sm_fetch() {
    local cache=$1
    SM_PREFIX=$cache/prefix
    local stamp=$SM_PREFIX/.complete
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${SM_PACKAGES[*]}" ]; then return 0; fi
    mkdir -p "$cache/debs"
    chmod 755 "$cache" "$cache/debs"
    local download=(apt-get -o APT::Sandbox::User=root download "${SM_PACKAGES[@]}")
    (cd "$cache/debs" && timeout 300 "${download[@]}" >/dev/null 2>&1) ||
        { timeout 300 apt-get update -qq && (cd "$cache/debs" && timeout 300 "${download[@]}" >/dev/null); } ||
        harness_fail "apt-get download ${SM_PACKAGES[*]} failed"
    local unpack=$cache/prefix.new
    rm -rf "$unpack"
    mkdir -p "$unpack"
    local p
    for p in "${SM_PACKAGES[@]}"; do dpkg -x "$(ls "$cache/debs/${p}_"*.deb | sort | tail -n1)" "$unpack"; done
    chmod g-s,u-s "$unpack/usr/libexec/sendmail/sendmail"
    rm -rf "$SM_PREFIX"
    mv "$unpack" "$SM_PREFIX"
    echo "${SM_PACKAGES[*]}" >"$stamp"
}

# sm_config RUN MILTER_SPEC [MC_EXTRA]: writes the .mc/.cf and the private files; picks ports.
sm_config() {
    SM_RUN=$1
    local milter=$2 extra=${3:-} host=mx.example.test
    # Sendmail runs in its own mount namespace with private propagation, so the bind mounts of
    # sendmail_ns.sh never reach the host's /etc or /dev. unshare needs "/" to be a mount point
    # for that: it is on a machine, a VM or a container; a plain chroot must be bind-mounted onto
    # itself first. Refuse clearly rather than mount with shared propagation.
    unshare --mount --propagation private true 2>/dev/null ||
        harness_fail "cannot make a private mount namespace (unshare --mount --propagation private):" \
            "is / a mount point? In a chroot, run 'mount --bind DIR DIR' on its root before entering it"
    SM_PORT1=$(harness_free_port)
    SM_PORT2=$(harness_free_port)
    SM_PORT3=$(harness_free_port)
    SM_PORT4=$(harness_free_port)
    local v6_daemon="" snippet
    [ -z "${SM_IPV6:-}" ] || v6_daemon="DAEMON_OPTIONS(\`Port=$SM_PORT3, Addr=::1, Family=inet6, Name=MTA-v6')dnl"
    snippet=$(sed "s|S=unix:[^,']*|S=$milter|" "$SM_CONTRIB_MC")
    [ -z "${SM_KEEP_RECEIPTS:-}" ] || snippet=$(grep -v confPRIVACY_FLAGS <<<"$snippet")
    mkdir -p "$SM_RUN"/{queue,sasl,etc}
    chmod 755 "$SM_RUN" "$SM_RUN/sasl" "$SM_RUN/etc"
    chmod 700 "$SM_RUN/queue"
    cp "$SM_PREFIX/etc/mail/helpfile" "$SM_RUN/helpfile"
    printf 'passwd\tfiles\nhosts\tfiles\naliases\tfiles\n' >"$SM_RUN/service.switch"
    printf '# none: every recipient is discarded\n' >"$SM_RUN/aliases"
    : >"$SM_RUN/statistics"
    # The fully qualified name first: its canonical name must be qualified, or Sendmail sleeps 60 s.
    printf '127.0.0.1\t%s mx localhost\n::1\tlocalhost\n' "$host" >"$SM_RUN/etc/hosts"
    sed 's/^hosts:.*/hosts: files/' /etc/nsswitch.conf >"$SM_RUN/etc/nsswitch.conf"
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$SM_RUN/etc/resolv.conf"
    chmod 644 "$SM_RUN"/etc/* "$SM_RUN"/helpfile "$SM_RUN"/service.switch "$SM_RUN"/aliases
    cat >"$SM_RUN/sasl/Sendmail.conf" <<SASL
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SM_RUN/sasldb2
mech_list: PLAIN LOGIN
SASL
    local login
    for login in alice bob; do echo secret | saslpasswd2 -p -f "$SM_RUN/sasldb2" -c -u "$host" "$login"; done
    chmod 600 "$SM_RUN/sasldb2"
    cat >"$SM_RUN/sm.env" <<ENV
SM_HOSTNAME=$host
SM_PREFIX=$SM_PREFIX
ENV
    # The .mc: what a private instance needs, and contrib/sendmail/relaymilter.mc as shipped
    # (only its socket changed).
    cat >"$SM_RUN/sendmail.mc" <<MC
divert(-1)dnl
# A private test instance: its own files under $SM_RUN, loopback only, everything discarded.
divert(0)dnl
OSTYPE(\`linux')dnl
define(\`LOCAL_MAILER_PATH', \`/bin/true')dnl
define(\`LOCAL_SHELL_PATH', \`/bin/true')dnl
define(\`PROCMAIL_MAILER_PATH', \`/bin/true')dnl
define(\`QUEUE_DIR', \`$SM_RUN/queue')dnl
define(\`confPID_FILE', \`$SM_RUN/sendmail.pid')dnl
define(\`STATUS_FILE', \`$SM_RUN/statistics')dnl
define(\`HELP_FILE', \`$SM_RUN/helpfile')dnl
define(\`ALIAS_FILE', \`$SM_RUN/aliases')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_RUN/service.switch')dnl
define(\`confHOSTS_FILE', \`$SM_RUN/etc/hosts')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confLOG_LEVEL', \`9')dnl
define(\`confTO_IDENT', \`0s')dnl
dnl a busy test machine (load average in the tens under the ASan load test) must not make it
dnl close its listeners (RefuseLA, default 12 per CPU) or only queue mail (QueueLA)
define(\`confREFUSE_LA', \`10000')dnl
define(\`confQUEUE_LA', \`10000')dnl
define(\`confAUTH_REALM', \`$host')dnl
define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl
TRUST_AUTH_MECH(\`PLAIN LOGIN')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
LOCAL_DOMAIN(\`example.com')dnl
LOCAL_DOMAIN(\`[127.0.0.1]')dnl
DAEMON_OPTIONS(\`Port=$SM_PORT1, Addr=127.0.0.1, Name=MTA')dnl
DAEMON_OPTIONS(\`Port=$SM_PORT2, Addr=127.0.0.6, Name=MTA-internal')dnl
DAEMON_OPTIONS(\`Port=$SM_PORT4, Addr=127.0.0.1, Name=MSA')dnl
$v6_daemon
$snippet
$extra
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MAILER_DEFINITIONS
Mlocal_discard,	P=/bin/true, F=lsmDFMq, A=true \$u
Mrelay_discard,	P=/bin/true, F=lsmDFMq, A=true \$u
LOCAL_RULE_0
# Every recipient is discarded, nothing leaves the machine, but the log tells where it would
# have gone: Sendmail's own local names (class w, with the local domains and [127.0.0.1] added)
# to mailer=local_discard, everything else, bounces and receipts included, to mailer=relay_discard.
R\$* < @ \$=w . > \$*		\$#local_discard \$: \$1
R\$* < @ \$=w > \$*		\$#local_discard \$: \$1
R\$* < @ \$+ > \$*		\$#relay_discard \$@ \$2 \$: \$1 < @ \$2 > \$3
R\$*			\$#local_discard \$: \$1
MC
    grep -qF "S=$milter," "$SM_RUN/sendmail.mc" ||
        harness_fail "$SM_CONTRIB_MC: no S=unix:PATH socket found to point at the test's milter"
    local cf=$SM_PREFIX/usr/share/sendmail/cf
    "$SM_PREFIX/usr/bin/m4" -D_CF_DIR_="$cf/" "$cf/m4/cf.m4" "$SM_RUN/sendmail.mc" >"$SM_RUN/sendmail.cf" \
        2>"$SM_RUN/m4.stderr" || { cat "$SM_RUN/m4.stderr"; harness_fail "m4"; }
    chmod 644 "$SM_RUN/sendmail.cf"
    unshare --mount --uts --propagation private -- "$SM_NS" "$SM_RUN" \
        "$SM_PREFIX/usr/libexec/sendmail/sendmail" -C "$SM_RUN/sendmail.cf" -bi >"$SM_RUN/newaliases.out" 2>&1 ||
        { cat "$SM_RUN/newaliases.out"; harness_fail "newaliases"; }
}

# sm_start: starts the configured Sendmail and its syslog receiver; waits for both listeners.
sm_start() {
    rm -f "$SM_RUN/log.sock"
    : >>"$SM_RUN/maillog.raw"
    # syslog datagrams carry no newline: sm_log splits them at their <PRI> marks.
    socat -u "UNIX-RECV:$SM_RUN/log.sock,mode=666" "OPEN:$SM_RUN/maillog.raw,append" &
    SM_LOGGER_PID=$!
    harness_track "$SM_LOGGER_PID"
    harness_wait_for 5 test -S "$SM_RUN/log.sock" || harness_fail "the syslog receiver did not start"
    unshare --mount --uts --propagation private -- "$SM_NS" "$SM_RUN" \
        "$SM_PREFIX/usr/libexec/sendmail/sendmail" -C "$SM_RUN/sendmail.cf" -bD \
        >"$SM_RUN/sendmail.stderr" 2>&1 </dev/null &
    SM_PID=$!
    harness_track "$SM_PID"
    sm_listening() {
        ss -Hltn "src 127.0.0.1 and sport = :$SM_PORT1" | grep -q . && ss -Hltn "src 127.0.0.6 and sport = :$SM_PORT2" | grep -q . &&
            ss -Hltn "src 127.0.0.1 and sport = :$SM_PORT4" | grep -q . &&
            { [ -z "${SM_IPV6:-}" ] || ss -Hltn "src [::1] and sport = :$SM_PORT3" | grep -q .; }
    }
    harness_wait_for 30 sm_listening || { cat "$SM_RUN/sendmail.stderr"; sm_log | tail; harness_fail "Sendmail is not listening"; }
}

# Sendmail's log, one line per syslog message.
sm_log() { sed -E 's/<[0-9]{1,3}>([A-Z][a-z]{2} )/\n\1/g' "$SM_RUN/maillog.raw" | sed '/^$/d'; }

# sm_stop: Sendmail and its session children (they outlive the daemon's SIGTERM), by PID.
sm_stop() {
    [ -n "$SM_PID" ] || return 0
    local children
    children=$(ps -o pid= --ppid "$SM_PID" 2>/dev/null || true)
    harness_stop_pid "$SM_PID" || true
    local child
    for child in $children; do harness_stop_pid "$child" || true; done
    SM_PID=""
    sleep 0.2  # let the last log datagrams land
    [ -z "$SM_LOGGER_PID" ] || harness_stop_pid "$SM_LOGGER_PID" || true
    SM_LOGGER_PID=""
}

SM_NS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sendmail_ns.sh
SM_CONTRIB_MC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/contrib/sendmail/relaymilter.mc
