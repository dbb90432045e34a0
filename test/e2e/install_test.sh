#!/bin/bash
# install_test: the README's Install section, followed as an admin would on a fresh Debian 12
# with Debian's own Postfix ("Internet Site", default master.cf: smtpd chrooted). A
# `debootstrap --variant=minbase bookworm` tree (cached under BUILD_DIR) is copied and entered
# with chroot in a private mount and PID namespace; apt reaches Debian's mirror, while Postfix,
# relaymilter and swaks run in a network namespace of their own (loopback only). No systemd runs
# there: relaymilter is started as its installed unit's ExecStartPre/ExecStart would, as its
# user, and Postfix with `postfix start`. Then: 550 for an outside relay, 250 local, 250 for an
# allowed client, the refusal found with the README's grep, smtpd's groups, an upgrade, remove
# (Postfix fails closed), purge, and Postfix installed after relaymilter (the trigger). Not
# checked here: the unit's sandboxing and the journalctl forms (no systemd). Run as root:
#   install_test.sh BUILD_DIR
set -uo pipefail
build=$(realpath "${1:?usage: install_test.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/harness.sh"
[ "$(id -u)" = 0 ] || harness_fail "run as root"
cache=$build/install-test-cache
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# --- outside the namespaces: the package, and the cached Debian 12 tree -----------------------------
if [ -z "${INSTALL_TEST_INSIDE:-}" ]; then
    for tool in debootstrap unshare nsenter chroot swaks; do
        command -v "$tool" >/dev/null || harness_fail "$tool is missing (contrib/install-deps.sh installs it)"
    done
    unshare --mount --propagation private true 2>/dev/null ||
        harness_fail "cannot make a private mount namespace: is / a mount point? (in a chroot: mount --bind DIR DIR)"
    start=$SECONDS
    "$top/contrib/build-deb.sh" "$build/install-test-deb" >"$build/install-test-deb.log" 2>&1 ||
        { tail -30 "$build/install-test-deb.log"; harness_fail "contrib/build-deb.sh"; }
    echo "ok   package built with contrib/build-deb.sh in $((SECONDS - start)) s"
    if [ ! -f "$cache/minbase/.complete" ]; then
        start=$SECONDS
        rm -rf "$cache/minbase" "$cache/minbase.new"
        mkdir -p "$cache"
        timeout 900 debootstrap --variant=minbase bookworm "$cache/minbase.new" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
            { tail -20 "$cache/debootstrap.log"; harness_fail "debootstrap --variant=minbase bookworm"; }
        touch "$cache/minbase.new/.complete"
        mv "$cache/minbase.new" "$cache/minbase"
        echo "ok   debootstrap --variant=minbase bookworm in $((SECONDS - start)) s (cached in $cache/minbase)"
    else
        echo "ok   Debian 12 minbase tree from the cache ($cache/minbase)"
    fi
    # A PID namespace: whatever this test leaves running dies with it. The child gets SIGTERM
    # if unshare itself is killed (a ctest timeout), and its EXIT trap stops the rest by PID.
    exec unshare --mount --propagation private --pid --fork --kill-child=SIGTERM \
        env INSTALL_TEST_INSIDE=1 "$0" "$@"
fi

# --- inside: PID 1 of a private PID namespace, with private mounts -------------------------------
mount -t proc proc /proc  # ps and kill agree on PIDs
harness_tmpdir
tmp=$HARNESS_TMP
root=$tmp/root
netns=$tmp/netns
failures=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }
MILTER_PID=""
MASTER_PID=""
stop_all() {
    [ -z "$MILTER_PID" ] || harness_stop_pid "$MILTER_PID" || true
    if [ -n "$MASTER_PID" ] && kill -0 "$MASTER_PID" 2>/dev/null; then
        timeout 30 nsenter --net="$netns" chroot "$root" postfix stop >/dev/null 2>&1
        harness_stop_pid "$MASTER_PID" || true
    fi
}
# Unmount before removing: rm -rf must never reach the cache's .debs or /dev through a mount.
cleanup() {
    stop_all
    umount -R "$root" 2>/dev/null
    umount "$netns" 2>/dev/null
    if findmnt -rn -o TARGET | grep -qF "$tmp/"; then
        echo "install_test: mounts remain under $tmp, so it is kept" >&2
        KEEP_TMP=1
    fi
    harness_cleanup
}
trap cleanup EXIT
trap 'exit 1' TERM INT

start=$SECONDS
cp -a "$cache/minbase" "$root" || harness_fail "copying the Debian 12 tree"
mkdir -p "$cache/archives/partial"
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --bind "$cache/archives" "$root/var/cache/apt/archives"  # .debs kept between runs
# A /dev of its own, so that nothing in the tree talks to this machine's /dev/log.
mount -t tmpfs -o mode=755,size=1m dev "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node" && mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" && ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
# No daemon starts from a maintainer script in here (Debian's way for chroots).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
touch "$netns"
unshare --net="$netns" true || harness_fail "cannot make a network namespace"
nsenter --net="$netns" ip link set lo up || harness_fail "loopback in the network namespace"
ok "fresh Debian 12 tree ready in $((SECONDS - start)) s: chroot, private /dev and /proc, own network namespace for mail"

env_clean=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
in_root() { chroot "$root" "${env_clean[@]}" "$@"; }                    # this machine's network: apt
in_mail() { nsenter --net="$netns" chroot "$root" "${env_clean[@]}" "$@"; }  # loopback only
# smtp SWAKS_ARGS...: one session by swaks, run on this machine (the client is not part of the
# server) in the mail namespace. Prints "COMMAND -> REPLY" per reply; all of it in last-smtp.
smtp() {
    nsenter --net="$netns" swaks --server 127.0.0.1:25 --timeout 15 --helo client.test "$@" >"$tmp/last-smtp" 2>&1
    awk '/^ -> / { sub(/^ -> /, ""); cmd = $0; next }
         /^<[-*~]+ / && cmd != "" { line = $0; sub(/^<[-*~]+ +/, "", line); print cmd " -> " line; cmd = "" }
         /^\*\*\* / { print "ERROR " $0 }' "$tmp/last-smtp"
}
smtp_raw() { cat "$tmp/last-smtp"; }

# --- Debian's Postfix, "Internet Site" ----------------------------------------------------------
start=$SECONDS
timeout 300 chroot "$root" "${env_clean[@]}" apt-get update -q >"$tmp/apt-update.out" 2>&1 ||
    { tail "$tmp/apt-update.out"; harness_fail "apt-get update in the tree"; }
printf '%s\n' "postfix postfix/main_mailer_type select Internet Site" "postfix postfix/mailname string mx.example.test" |
    in_root debconf-set-selections
timeout 600 chroot "$root" "${env_clean[@]}" apt-get install -y -q --no-install-recommends postfix >"$tmp/postfix.out" 2>&1 ||
    { tail -20 "$tmp/postfix.out"; harness_fail "apt-get install postfix"; }
ok "apt-get install postfix: $(in_root dpkg-query -W -f='${Version}' postfix) in $((SECONDS - start)) s"
chroot_column=$(awk '$1 == "smtp" && $2 == "inet" { print $5 }' "$root/etc/postfix/master.cf")
[ "$chroot_column" = y ] && ok "master.cf as Debian ships it: smtp inet ... chroot y" || bad "master.cf's smtp chroot column is '$chroot_column'"
ok "Debian's main.cf: $(grep '^smtpd_relay_restrictions' "$root/etc/postfix/main.cf")"

# --- the package, as the README says ----------------------------------------------------------------
version=$(dpkg-parsechangelog -l "$top/contrib/debian/changelog" -S Version)
deb=relaymilter_${version}_$(dpkg --print-architecture).deb
cp "$build/install-test-deb/$deb" "$root/tmp/"
start=$SECONDS
timeout 600 chroot "$root" "${env_clean[@]}" apt-get install -y -q "/tmp/$deb" >"$tmp/install.out" 2>&1 ||
    { tail -20 "$tmp/install.out"; harness_fail "apt-get install ./$deb"; }
ok "apt-get install ./$deb in $((SECONDS - start)) s (it pulled in: $(grep -oE '^Setting up [^ ]+' "$tmp/install.out" | cut -d' ' -f3 | grep -v '^relaymilter$' | tr '\n' ' '))"
grep -q "added user postfix to group relaymilter" "$tmp/install.out" && ok "the install said: $(grep -o 'relaymilter: added.*' "$tmp/install.out")" ||
    bad "the install did not say it added postfix to the group"
ok "postfix's groups: $(in_root id postfix)"
ok "socket directory: $(in_root stat -c '%n %U:%G %a' /var/spool/postfix/relaymilter)"
[ -L "$root/etc/systemd/system/multi-user.target.wants/relaymilter.service" ] && ok "relaymilter.service enabled (symlink in multi-user.target.wants)" ||
    bad "relaymilter.service is not enabled"

# The admin names the local domains (Postfix's mydestination has mx.example.test) and checks the conf.
sed -i -e 's/^local-domain = example\.com$/local-domain = mx.example.test/' -e '/^local-domain = \.example\.com$/d' \
    "$root/etc/relaymilter.conf"
out=$(in_root relaymilter -n 2>&1) && ok "relaymilter -n: $out" || bad "relaymilter -n: $out"

# The Postfix change: the shipped postconf commands.
out=$(in_root sh /usr/share/doc/relaymilter/postconf-commands 2>&1) && [ -z "$out" ] &&
    ok "sh /usr/share/doc/relaymilter/postconf-commands: no output" || bad "postconf-commands said: $out"
warnings=$(in_root postconf -n 2>&1 >/dev/null)
[ -z "$warnings" ] && [ "$(grep -c '^smtpd_relay_restrictions' "$root/etc/postfix/main.cf")" = 1 ] &&
    ok "postconf -n: no warning, one smtpd_relay_restrictions: $(in_root postconf -h smtpd_relay_restrictions)" ||
    bad "after the change: $warnings"
# No syslog daemon in minbase and no journald here: Postfix writes the mail log itself
# (maillog_file), and relaymilter's lines (--log stderr) are appended to the same file.
in_root postconf -e maillog_file=/var/log/mail.log
maillog=$root/var/log/mail.log
: >"$maillog"

# --- start relaymilter as its unit would, then Postfix -------------------------------------------
unit=$root/lib/systemd/system/relaymilter.service
unit_value() { sed -n "s/^$1=//p" "$unit"; }
socket=$root/var/spool/postfix/relaymilter/relaymilter.sock
# The unit's User=, Group= (with the user's groups, as systemd sets them) and UMask=; every
# step execs the next, so the PID started is relaymilter's.
start_milter() {
    local as_unit=(nsenter --net="$netns" chroot "$root" "${env_clean[@]}"
        setpriv --reuid="$(unit_value User)" --regid="$(unit_value Group)" --init-groups /bin/sh -c)
    out=$(timeout 30 "${as_unit[@]}" "umask $(unit_value UMask); exec $(unit_value ExecStartPre)" 2>&1) ||
        { bad "ExecStartPre: $out"; return 1; }
    ( exec "${as_unit[@]}" "umask $(unit_value UMask); exec $(unit_value ExecStart) --log stderr" ) >>"$maillog" 2>&1 &
    MILTER_PID=$!
    harness_wait_for 15 test -S "$socket" || { tail "$maillog"; harness_fail "relaymilter made no socket"; }
    [ "$(ps -o comm= -p "$MILTER_PID")" = relaymilter ] || harness_fail "pid $MILTER_PID is not relaymilter"
}
stop_milter() { harness_stop_pid "$MILTER_PID" || bad "relaymilter needed SIGKILL"; MILTER_PID=""; }
start_milter
ok "relaymilter started as the unit would ($(unit_value ExecStart) --log stderr, user $(unit_value User), umask $(unit_value UMask)): $(in_root stat -c '%n %U:%G %a' /var/spool/postfix/relaymilter/relaymilter.sock)"
timeout 60 nsenter --net="$netns" chroot "$root" "${env_clean[@]}" postfix start >"$tmp/postfix-start.out" 2>&1 ||
    { cat "$tmp/postfix-start.out"; tail "$maillog"; harness_fail "postfix start"; }
MASTER_PID=$(tr -d ' ' <"$root/var/spool/postfix/pid/master.pid")
harness_wait_for 15 nsenter --net="$netns" sh -c 'ss -Hltn "sport = :25" | grep -q .' || harness_fail "Postfix is not listening"
ok "postfix start: master pid $MASTER_PID, listening on port 25 (loopback only: own network namespace)"

# --- mail ----------------------------------------------------------------------------------------
expect() {  # LABEL WANT_REGEX SWAKS_ARGS...: the last MAIL/RCPT reply; a 250 must end "queued"
    local label=$1 want=$2 got
    shift 2
    got=$(smtp "$@" | grep -E '^(RCPT|MAIL|ERROR)' | tail -1)
    if grep -qE -- '-> 250' <<<"$got" && ! smtp_raw | grep -q '250 2.0.0 Ok: queued'; then got="$got, but not queued"; fi
    grep -qE "$want" <<<"$got" && ! grep -q 'not queued' <<<"$got" && ok "$label: $got" || bad "$label: got '$got', want /$want/"
}
expect "outside client 127.0.0.2 relays" "^RCPT TO:<user@relay-target.example> -> 550 5.7.1 Relaying prohibited" \
    --local-interface 127.0.0.2 --from someone@outside.example --to user@relay-target.example
# smtpd's groups, read while the smtpd that just served us is alive.
smtpd_seen=""
for status in /proc/[0-9]*/status; do
    [ "$(sed -n 's/^Name:\t//p' "$status" 2>/dev/null)" = smtpd ] || continue
    smtpd_seen=$(basename "$(dirname "$status")")
    ok "smtpd (pid $smtpd_seen, root $(readlink "$(dirname "$status")/root" | sed "s|$root||")): $(grep -E '^(Uid|Gid|Groups)' "$status" | tr '\t\n' '  ')"
    break
done
[ -n "$smtpd_seen" ] || bad "no smtpd process to read the groups of"
expect "outside client 127.0.0.2, local mail" "^RCPT TO:<postmaster@mx.example.test> -> 250" \
    --local-interface 127.0.0.2 --from someone@outside.example --to postmaster@mx.example.test
expect "allowed client 127.0.0.1 (allow-net) relays" "^RCPT TO:<user@relay-target.example> -> 250" \
    --local-interface 127.0.0.1 --from alice@mx.example.test --to user@relay-target.example
delivered() { grep -q 'to=<postmaster@mx.example.test>.*status=sent' "$maillog"; }
harness_wait_for 30 delivered && ok "local mail delivered: $(grep -o 'to=<postmaster@mx.example.test>.*status=sent[^)]*)' "$maillog" | head -1)" ||
    bad "local mail was not delivered"
# The README's grep for refusals, on the mail log.
found=$(in_root grep -E 'relaymilter\[[0-9]+\]: reject:|milter-reject' /var/log/mail.log)
grep -q 'relaymilter\[[0-9]*\]: reject: client=unknown\[127.0.0.2\].*to=<user@relay-target.example> rule=default' <<<"$found" &&
    grep -q 'milter-reject: RCPT from unknown\[127.0.0.2\]: 550 5.7.1 Relaying prohibited' <<<"$found" &&
    { ok "the README's grep finds the refusal:"; sed 's/^/       /' <<<"$found"; } || bad "the README's grep found: $found"
! grep -q 'warning: connect to Milter' "$maillog" && ok "no 'connect to Milter' warning in the mail log" ||
    bad "Postfix could not connect: $(grep 'warning: connect to Milter' "$maillog" | head -1)"

# The group is what lets smtpd in: without it, and after `postfix reload`, Postfix cannot connect.
in_root gpasswd -d postfix relaymilter >/dev/null
in_mail postfix reload >/dev/null 2>&1
expect "postfix not in group relaymilter, after postfix reload" "^(MAIL|RCPT).* -> 451 4.7.1" \
    --local-interface 127.0.0.2 --from someone@outside.example --to postmaster@mx.example.test
ok "Postfix logged: $(grep -o 'warning: connect to Milter service.*' "$maillog" | tail -1)"
in_root adduser --quiet postfix relaymilter
in_mail postfix reload >/dev/null 2>&1
expect "postfix back in the group, after postfix reload" "^RCPT TO:<postmaster@mx.example.test> -> 250" \
    --local-interface 127.0.0.2 --from someone@outside.example --to postmaster@mx.example.test

# --- upgrade, remove, purge ----------------------------------------------------------------------
# The same package under a higher version: dpkg runs the upgrade paths (prerm upgrade, postinst
# configure OLD-VERSION). Postfix keeps running, as on a server.
stop_milter
dpkg-deb -R "$build/install-test-deb/$deb" "$tmp/upgrade"
sed -i "s/^Version: .*/Version: $version+upgrade1/" "$tmp/upgrade/DEBIAN/control"
dpkg-deb -b "$tmp/upgrade" "$root/tmp/relaymilter_upgrade.deb" >/dev/null
uid_before=$(in_root id -u relaymilter)
timeout 300 chroot "$root" "${env_clean[@]}" apt-get install -y -q /tmp/relaymilter_upgrade.deb >"$tmp/upgrade.out" 2>&1 ||
    { tail "$tmp/upgrade.out"; bad "apt-get install (upgrade)"; }
grep -q "Unpacking relaymilter ($version+upgrade1) over ($version)" "$tmp/upgrade.out" && ok "upgrade: $(grep -o 'Unpacking relaymilter.*' "$tmp/upgrade.out")" ||
    bad "not an upgrade: $(grep relaymilter "$tmp/upgrade.out" | head -3)"
grep -qx 'local-domain = mx.example.test' "$root/etc/relaymilter.conf" && [ "$(in_root id -u relaymilter)" = "$uid_before" ] &&
    in_root id -nG postfix | grep -qw relaymilter &&
    ok "upgrade kept the admin's conf, the user (uid $uid_before), postfix in the group, $(in_root stat -c '%n %U:%G %a' /var/spool/postfix/relaymilter)" ||
    bad "upgrade changed the conf, user or group"
start_milter
expect "after the upgrade, outside client relays" "^RCPT TO:<user@relay-target.example> -> 550 5.7.1" \
    --local-interface 127.0.0.2 --from someone@outside.example --to user@relay-target.example
stop_milter

timeout 300 chroot "$root" "${env_clean[@]}" apt-get remove -y -q relaymilter >"$tmp/remove.out" 2>&1 || bad "apt-get remove"
[ ! -e "$root/usr/sbin/relaymilter" ] && grep -qx 'local-domain = mx.example.test' "$root/etc/relaymilter.conf" &&
    in_root getent passwd relaymilter >/dev/null && [ ! -e "$root/var/spool/postfix/relaymilter" ] &&
    ok "apt-get remove: binary and socket directory gone; conf (as edited) and user kept" || bad "apt-get remove left the wrong files"
expect "relaymilter removed, Postfix unchanged: fails closed" "^(MAIL|RCPT).* -> 451 4.7.1" \
    --local-interface 127.0.0.2 --from someone@outside.example --to postmaster@mx.example.test
timeout 300 chroot "$root" "${env_clean[@]}" apt-get purge -y -q relaymilter >"$tmp/purge.out" 2>&1 || bad "apt-get purge"
[ ! -e "$root/etc/relaymilter.conf" ] && [ -z "$(in_root dpkg-statoverride --list /var/spool/postfix/relaymilter)" ] &&
    [ ! -e "$root/etc/systemd/system/multi-user.target.wants/relaymilter.service" ] &&
    ok "apt-get purge: conf, statoverride and enable symlink gone" || bad "apt-get purge left files behind"
in_root getent passwd relaymilter >/dev/null && ok "apt-get purge: system user relaymilter kept (Debian keeps system users)" ||
    bad "purge removed the user"
[ -d "$root/var/spool/postfix/pid" ] && ok "Postfix's spool untouched" || bad "purge damaged /var/spool/postfix"
# --- Postfix installed after relaymilter (apt may configure them in either order) -------------
stop_all
MASTER_PID=""
timeout 300 chroot "$root" "${env_clean[@]}" apt-get purge -y -q postfix >"$tmp/purge-postfix.out" 2>&1 || bad "apt-get purge postfix"
! in_root getent passwd postfix >/dev/null || bad "Debian's postfix purge left the user postfix"
timeout 300 chroot "$root" "${env_clean[@]}" apt-get install -y -q "/tmp/$deb" >"$tmp/install2.out" 2>&1 ||
    { tail "$tmp/install2.out"; bad "apt-get install ./$deb without Postfix"; }
! grep -q "added user postfix" "$tmp/install2.out" && [ -d "$root/var/spool/postfix/relaymilter" ] &&
    ok "without Postfix: installed, socket directory made ($(in_root stat -c '%U:%G %a' /var/spool/postfix/relaymilter)), no group change" ||
    bad "install without Postfix"
printf '%s\n' "postfix postfix/main_mailer_type select Internet Site" "postfix postfix/mailname string mx.example.test" |
    in_root debconf-set-selections
timeout 600 chroot "$root" "${env_clean[@]}" apt-get install -y -q --no-install-recommends postfix >"$tmp/postfix2.out" 2>&1 ||
    { tail "$tmp/postfix2.out"; bad "apt-get install postfix after relaymilter"; }
grep -q "^Processing triggers for relaymilter" "$tmp/postfix2.out" && grep -q "added user postfix to group relaymilter" "$tmp/postfix2.out" &&
    in_root id -nG postfix | grep -qw relaymilter && ok "Postfix installed afterwards: relaymilter's trigger added postfix to the group ($(in_root id postfix); $(in_root stat -c '%n %U:%G %a' /var/spool/postfix/relaymilter))" ||
    bad "Postfix installed afterwards is not in the group: $(in_root id postfix); $(grep -i relaymilter "$tmp/postfix2.out")"

# For the record (the two 451 steps above cause one connect warning each).
warnings=$(grep -oE '(warning|error|fatal|panic): .*' "$maillog" | sort | uniq -c)
echo "     the mail log's warnings over the whole run:"
sed 's/^/       /' <<<"${warnings:-none}"

stop_all
MASTER_PID=""
[ "$failures" = 0 ] || exit 1
echo "all install checks passed"
