#!/bin/bash
# package_test: builds the Debian package as the README says (contrib/build-deb.sh: debhelper,
# dpkg-buildpackage), lints it (no E:, no W: unless overridden with a reason), installs,
# upgrades, removes and purges it on this machine with apt, and checks what Debian's tools did:
# conffile, user and group, postfix in the group, the socket directory, the unit enabled once
# and an admin's disable kept (systemd need not run: the maintainer scripts' symlinks are
# checked), restart on upgrade (the postinst run with a stand-in systemctl). It also checks
# that `cmake --install` from BUILD_DIR keeps an existing conf, and that the README, the
# snippet and the shipped postconf commands agree. Run as root:
#   package_test.sh BUILD_DIR      (the packages go to PACKAGE_DIR, default BUILD_DIR/../build-deb)
# It refuses to run when a relaymilter package is installed already: it would remove it.
set -uo pipefail
build=$(realpath "${1:?usage: package_test.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
package_dir=${PACKAGE_DIR:-$(dirname "$build")/build-deb}
. "$here/../lib/harness.sh"
[ "$(id -u)" = 0 ] || harness_fail "run as root"
if dpkg-query -W -f='${Status}' relaymilter 2>/dev/null | grep -q "installed"; then
    harness_fail "a relaymilter package is installed already; this test would remove it"
fi
[ ! -e /etc/relaymilter.conf ] || harness_fail "/etc/relaymilter.conf exists; this test would purge it"
harness_tmpdir
tmp=$HARNESS_TMP
failures=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }
purge() { DEBIAN_FRONTEND=noninteractive apt-get purge -y -q relaymilter >/dev/null 2>&1 || true; }
trap 'purge; harness_cleanup' EXIT
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confold "$@"; }
socket_dir=/var/spool/postfix/relaymilter
wants=/etc/systemd/system/multi-user.target.wants/relaymilter.service

# --- cmake --install keeps an admin's conf ---------------------------------------------------------
DESTDIR=$tmp/stage cmake --install "$build" >/dev/null || bad "cmake --install"
conf=$(find "$tmp/stage" -name relaymilter.conf -path '*etc*' | head -1)
[ -n "$conf" ] && [ -x "$(find "$tmp/stage" -path '*sbin/relaymilter')" ] &&
    [ -n "$(find "$tmp/stage" -name relaymilter.8)" ] && [ -n "$(find "$tmp/stage" -name relaymilter.service)" ] &&
    ok "cmake --install: sbin/relaymilter, $(sed "s|$tmp/stage||" <<<"$conf"), man pages, systemd unit" ||
    bad "cmake --install did not install everything"
echo "# edited by the admin" >>"$conf"
DESTDIR=$tmp/stage cmake --install "$build" >"$tmp/reinstall.out" || bad "second cmake --install"
grep -q "edited by the admin" "$conf" && [ -f "$conf.dist" ] &&
    ok "a second cmake --install keeps the edited conf and puts the new one beside it as .dist" ||
    bad "cmake --install overwrote the conf"

# --- the docs agree: README, snippet, shipped postconf commands, Build-Depends --------------------
commands=$top/contrib/postfix/postconf-commands
settings() { grep -oE "'[a-z_]+ =[^']*'" "$commands" | tr -d "'"; }
missing=$(grep -vE '^#|^$' "$commands" | while IFS= read -r line; do grep -qxF "    $line" "$top/README.md" || echo "$line"; done)
[ -z "$missing" ] && ok "README prints contrib/postfix/postconf-commands as shipped" ||
    bad "README lacks these postconf lines: $missing"
snippet=$(grep -vE '^#|^$' "$top/contrib/postfix/main.cf.snippet" | sed 's/ *$//' | sort)
[ "$snippet" = "$(settings | sed 's/ *$//' | sort)" ] && ok "main.cf.snippet explains exactly the $(settings | wc -l) settings postconf-commands makes" ||
    bad "main.cf.snippet and postconf-commands differ: $(diff <(echo "$snippet") <(settings | sed 's/ *$//' | sort) | tr '\n' ' ')"
build_depends=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$top/contrib/debian/control" | sed 's/^Build-Depends://; /^[A-Z]/d' |
    tr ',' '\n' | sed 's/(.*)//; s/ //g; s/^debhelper-compat$/debhelper/' | grep .)
readme_apt=$(grep -E '^    apt-get install build-essential ' "$top/README.md")
missing=$(for p in $build_depends; do grep -qw -- "$p" <<<"$readme_apt" || echo "$p"; done)
[ -n "$readme_apt" ] && [ -z "$missing" ] && ok "README's apt-get line holds every Build-Depends: $(echo $build_depends)" ||
    bad "README's build dependencies lack: $missing"

# --- the package, built as the README says ---------------------------------------------------------
start=$SECONDS
"$top/contrib/build-deb.sh" "$package_dir" >"$tmp/build.out" 2>&1 || { tail -40 "$tmp/build.out"; harness_fail "contrib/build-deb.sh"; }
version=$(dpkg-parsechangelog -l "$top/contrib/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=$package_dir/relaymilter_${version}_$arch.deb
dbgsym=$package_dir/relaymilter-dbgsym_${version}_$arch.deb
changes=$package_dir/relaymilter_${version}_$arch.changes
[ -f "$deb" ] && [ -f "$changes" ] || harness_fail "contrib/build-deb.sh made no $deb"
ok "contrib/build-deb.sh: $(basename "$deb") in $((SECONDS - start)) s"
depends=$(dpkg-deb -f "$deb" Depends)
ok "Depends: $depends"
for lib in adduser libmilter libboost-program-options libc6 libstdc++6; do
    grep -q "$lib" <<<"$depends" || bad "Depends lacks $lib"
done
upstream=$(sed -n 's/^project(relaymilter VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
[ "${version%-*}" = "$upstream" ] && ok "changelog version $version matches CMake's $upstream" ||
    bad "changelog version $version, CMake project version $upstream"
debug_files=$(dpkg-deb -c "$dbgsym" | grep -c '/usr/lib/debug/.build-id/.*\.debug$')
[ "$debug_files" -ge 1 ] && ok "$(basename "$dbgsym") holds the debug symbols ($debug_files .debug file)" ||
    bad "no debug symbols in $dbgsym"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/sbin/relaymilter >"$tmp/relaymilter.bin"
file "$tmp/relaymilter.bin" | grep -q ', stripped' && ok "/usr/sbin/relaymilter is stripped" || bad "binary not stripped: $(file -b "$tmp/relaymilter.bin")"

# lintian: every tag of level E or W fails, unless the package overrides it; the overrides file
# gives each override a reason on the comment line above it.
lintian --pedantic --display-info --show-overrides "$changes" >"$tmp/lintian.out" 2>&1
grep -E '^[EWIPO]: ' "$tmp/lintian.out" | sed 's/^/     lintian: /'
if grep -qE '^(E|W): ' "$tmp/lintian.out"; then
    bad "lintian: $(grep -cE '^(E|W): ' "$tmp/lintian.out") E:/W: tags"
else
    ok "lintian --pedantic: no E:, no W: ($(grep -cE '^I: ' "$tmp/lintian.out") I:, $(grep -cE '^P: ' "$tmp/lintian.out") P:, $(grep -cE '^O: ' "$tmp/lintian.out") overridden)"
fi
overrides=$top/contrib/debian/relaymilter.lintian-overrides
unexplained=$(awk '/^#/ { reason = 1; next } /^[a-z]/ { if (!reason) print; reason = 0 }' "$overrides")
[ -z "$unexplained" ] && ok "every lintian override has a reason" || bad "overrides without a reason: $unexplained"

# --- first install ------------------------------------------------------------------------------
# The first-install path adds postfix to the group; a group left by an earlier purge must not hide it.
if getent group relaymilter >/dev/null && getent passwd postfix >/dev/null; then gpasswd -d postfix relaymilter >/dev/null 2>&1; fi
apt_get install "$deb" >"$tmp/install.out" 2>&1 || { cat "$tmp/install.out"; harness_fail "apt-get install $deb"; }
ok "installed with apt-get install ./$(basename "$deb")"
installed=$(/usr/sbin/relaymilter --version)
[ "$installed" = "relaymilter ${version%-*}" ] && ok "/usr/sbin/relaymilter --version: $installed" || bad "--version says '$installed'"
dpkg-query -W -f='${Conffiles}\n' relaymilter | grep -q '^ /etc/relaymilter.conf ' && ok "/etc/relaymilter.conf is a conffile" ||
    bad "/etc/relaymilter.conf is not a conffile"
user=$(getent passwd relaymilter)
uid=$(cut -d: -f3 <<<"$user")
[ -n "$user" ] && [ "$uid" -lt 1000 ] && [ "$(cut -d: -f6,7 <<<"$user")" = "/nonexistent:/usr/sbin/nologin" ] &&
    [ "$(id -gn relaymilter)" = relaymilter ] && ok "system user and group relaymilter: $user" || bad "user relaymilter: '$user'"
if getent passwd postfix >/dev/null; then
    id -nG postfix | grep -qw relaymilter && grep -q "added user postfix to group relaymilter" "$tmp/install.out" &&
        ok "postfix added to group relaymilter, and the install said so" || bad "postfix is not in group relaymilter: $(id postfix)"
fi
[ "$(stat -c '%U:%G %a' "$socket_dir" 2>&1)" = "relaymilter:relaymilter 750" ] && ok "$socket_dir: relaymilter:relaymilter 0750" ||
    bad "$socket_dir: $(stat -c '%U:%G %a' "$socket_dir" 2>&1)"
default_socket=$(/usr/sbin/relaymilter --help | sed -n 's/^Default socket: unix://p')
[ "$(dirname "$default_socket")" = "$socket_dir" ] && ok "the default socket $default_socket is in it" ||
    bad "default socket '$default_socket' is not in $socket_dir"
out=$(/usr/sbin/relaymilter --check-config 2>&1)
[ $? = 0 ] && ok "relaymilter --check-config (installed /etc/relaymilter.conf): $out" || bad "--check-config: $out"
grep -q "^socket = unix:$default_socket$" /etc/relaymilter.conf && ok "the conf names the default socket" || bad "the conf's socket line differs"
man -w relaymilter | grep -q 'relaymilter.8.gz$' && man -w 5 relaymilter.conf | grep -q 'relaymilter.conf.5.gz$' &&
    ok "man relaymilter, man 5 relaymilter.conf (compressed)" || bad "man pages not found or not compressed"
zcat "$(man -w relaymilter)" | grep -q "$default_socket" && ok "relaymilter(8) gives the default socket" || bad "relaymilter(8) lacks $default_socket"
for doc in README.Debian postconf-commands examples/main.cf.snippet examples/relaymilter.mc copyright changelog.Debian.gz; do
    [ -f "/usr/share/doc/relaymilter/$doc" ] || bad "no /usr/share/doc/relaymilter/$doc"
done
ok "/usr/share/doc/relaymilter: README.Debian, postconf-commands, examples, copyright, changelog"

unit=/lib/systemd/system/relaymilter.service
verify=$(systemd-analyze verify "$unit" 2>&1)
if [ $? = 0 ] && ! grep -qi "relaymilter.service" <<<"$verify"; then ok "systemd-analyze verify $unit: no complaint"; else bad "systemd-analyze verify: $verify"; fi
grep -qx "ReadWritePaths=$socket_dir" "$unit" && ok "the unit may write $socket_dir (ReadWritePaths=)" || bad "the unit lacks ReadWritePaths=$socket_dir"
exposure=$(systemd-analyze security --offline=true "$unit" 2>&1 | tail -1)
grep -q "Overall exposure level" <<<"$exposure" && ok "systemd-analyze security --offline=true: ${exposure#*→ }" ||
    bad "systemd-analyze security: $exposure"
echo "$exposure" >"$build/systemd-security.txt"
[ "$(readlink "$wants")" = "$unit" ] && ok "enabled on first install: $wants -> $unit" || bad "not enabled: $wants is '$(readlink "$wants")'"

# --- the service's start and restart, as the maintainer scripts would ask systemd ----------------
# In a private mount namespace /run is empty but for /run/systemd/system (so the scripts think
# systemd runs), and systemctl and deb-systemd-invoke are stand-ins that record their arguments.
mkdir -p "$tmp/fake-bin"
for tool in systemctl deb-systemd-invoke; do
    printf '#!/bin/sh\necho "%s $*" >>%s/calls\n' "$tool" "$tmp" >"$tmp/fake-bin/$tool"
    chmod 755 "$tmp/fake-bin/$tool"
done
as_if_systemd() {  # SCRIPT ARGS...: the installed maintainer script, systemd seemingly running
    : >"$tmp/calls"
    unshare --mount --propagation private sh -c 'mount -t tmpfs none /run && mkdir -p /run/systemd/system &&
        PATH=$0:$PATH exec "$@"' "$tmp/fake-bin" "/var/lib/dpkg/info/relaymilter.$1" "${@:2}" >/dev/null 2>&1
    grep -E 'deb-systemd-invoke' "$tmp/calls" | tr '\n' ';'
}
got=$(as_if_systemd postinst configure "")
[ "$got" = "deb-systemd-invoke start relaymilter.service;" ] && ok "first install: $got" || bad "first install asked: '$got'"
got=$(as_if_systemd postinst configure "$version")
[ "$got" = "deb-systemd-invoke restart relaymilter.service;" ] && ok "upgrade from $version: $got" || bad "upgrade asked: '$got'"
got=$(as_if_systemd prerm upgrade "$version")
[ -z "$got" ] && ok "prerm upgrade: no stop (the postinst restarts it)" || bad "prerm upgrade asked: '$got'"
got=$(as_if_systemd prerm remove)
[ "$got" = "deb-systemd-invoke stop relaymilter.service;" ] && ok "prerm remove: $got" || bad "prerm remove asked: '$got'"

# Postfix installed or upgraded later: the trigger on /usr/sbin/postfix runs the postinst again.
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./triggers | grep -qx 'interest-noawait /usr/sbin/postfix' &&
    ok "trigger: interest-noawait /usr/sbin/postfix" || bad "no trigger on /usr/sbin/postfix"
if getent passwd postfix >/dev/null; then
    gpasswd -d postfix relaymilter >/dev/null
    out=$(/var/lib/dpkg/info/relaymilter.postinst triggered /usr/sbin/postfix 2>&1)
    id -nG postfix | grep -qw relaymilter && ok "postinst triggered: $out" || bad "postinst triggered did not add postfix: $out"
fi

# --- upgrade over an edited conf, after the admin disabled the service ----------------------------
echo "# kept across upgrades" >>/etc/relaymilter.conf
systemctl disable relaymilter.service >"$tmp/disable.out" 2>&1 || bad "systemctl disable: $(cat "$tmp/disable.out")"
[ ! -e "$wants" ] && ok "systemctl disable (systemd not running) removed $wants" || bad "systemctl disable left $wants"
apt_get install --reinstall "$deb" >"$tmp/reinstall.out" 2>&1 || { cat "$tmp/reinstall.out"; bad "apt-get install --reinstall"; }
grep -q "kept across upgrades" /etc/relaymilter.conf && ok "upgrade keeps the admin's conf" || bad "the conf was replaced"
[ ! -e "$wants" ] && ok "upgrade keeps the admin's disable (no $wants)" || bad "upgrade re-enabled the service"
[ "$(stat -c '%U:%G %a' "$socket_dir")" = "relaymilter:relaymilter 750" ] && ok "upgrade keeps $socket_dir relaymilter:relaymilter 0750" ||
    bad "after upgrade $socket_dir is $(stat -c '%U:%G %a' "$socket_dir")"
systemctl enable relaymilter.service >/dev/null 2>&1 || bad "systemctl enable"

# --- remove, purge --------------------------------------------------------------------------------
apt_get remove relaymilter >"$tmp/remove.out" 2>&1 || bad "apt-get remove"
[ ! -e /usr/sbin/relaymilter ] && [ -e /etc/relaymilter.conf ] && ok "apt-get remove: binary gone, conffile kept" ||
    bad "apt-get remove left the wrong files"
[ ! -e "$socket_dir" ] && ok "apt-get remove: the (empty) socket directory is gone" || bad "apt-get remove left $socket_dir"
apt_get purge relaymilter >"$tmp/purge.out" 2>&1 || bad "apt-get purge"
[ ! -e /etc/relaymilter.conf ] && ok "apt-get purge: conf gone" || bad "purge left /etc/relaymilter.conf"
! dpkg-statoverride --list "$socket_dir" >/dev/null && ok "apt-get purge: the socket directory's statoverride gone" ||
    bad "purge left the statoverride of $socket_dir"
[ ! -e "$wants" ] && [ ! -e /var/lib/systemd/deb-systemd-helper-enabled/relaymilter.service.dsh-also ] &&
    ok "apt-get purge: the unit's symlinks and deb-systemd-helper state gone" || bad "purge left the unit's symlinks or state"
getent passwd relaymilter >/dev/null && ok "apt-get purge: system user relaymilter kept (as is usual in Debian)" ||
    bad "purge removed the user"

[ "$failures" = 0 ] || exit 1
echo "all package checks passed"
