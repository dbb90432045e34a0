#!/bin/bash
# package_test: builds the Debian package with CPack, installs it on this machine with apt (so
# its computed dependencies resolve as they would for an admin), checks what it installed, runs
# `relaymilter --check-config` on the installed conf, verifies the systemd unit and reports its
# exposure, upgrades over an edited conf, and removes the package again (also when a check
# fails). The package is built in its own directory (PACKAGE_DIR, default BUILD_DIR/../build-deb)
# configured with prefix /usr, as a distribution builds it. Also checks that `cmake --install`
# from BUILD_DIR keeps an existing conf. Run as root:
#   package_test.sh BUILD_DIR
# It refuses to run when a relaymilter package is already installed: it would remove it.
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
purge() { dpkg -P relaymilter >/dev/null 2>&1 || true; }
trap 'purge; harness_cleanup' EXIT

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

# --- the package ---------------------------------------------------------------------------------
cmake -S "$top" -B "$package_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DRELAYMILTER_TESTS=OFF -DRELAYMILTER_BENCH=OFF >"$tmp/cpack.out" 2>&1 &&
    cmake --build "$package_dir" -j2 >>"$tmp/cpack.out" 2>&1 &&
    (cd "$package_dir" && rm -f relaymilter_*.deb && cpack -G DEB >>"$tmp/cpack.out" 2>&1) ||
    { cat "$tmp/cpack.out"; harness_fail "building the package"; }
deb=$(ls -t "$package_dir"/relaymilter_*.deb | head -1)
depends=$(dpkg-deb -f "$deb" Depends)
ok "built $(basename "$deb"): Depends: $depends"
for lib in libmilter libboost-program-options libc6 libstdc++6; do
    grep -q "$lib" <<<"$depends" || bad "Depends lacks $lib (shlibdeps)"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | grep -qx "/etc/relaymilter.conf" &&
    ok "/etc/relaymilter.conf is a conffile" || bad "/etc/relaymilter.conf is not a conffile"

DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold "$deb" >"$tmp/install.out" 2>&1 ||
    { cat "$tmp/install.out"; harness_fail "apt-get install $deb"; }
ok "installed with apt-get"
[ -x /usr/sbin/relaymilter ] && ok "/usr/sbin/relaymilter: $(/usr/sbin/relaymilter --version)" || bad "no /usr/sbin/relaymilter"
getent passwd relaymilter >/dev/null && ok "system user relaymilter: $(getent passwd relaymilter | cut -d: -f1,3,6,7)" ||
    bad "no relaymilter user"
out=$(/usr/sbin/relaymilter --check-config 2>&1)
[ $? = 0 ] && ok "relaymilter --check-config (installed /etc/relaymilter.conf): $out" || bad "--check-config: $out"
man -w relaymilter >/dev/null 2>&1 && man -w 5 relaymilter.conf >/dev/null 2>&1 && ok "man relaymilter, man 5 relaymilter.conf" ||
    bad "man pages not found by man"
unit=/lib/systemd/system/relaymilter.service
verify=$(systemd-analyze verify "$unit" 2>&1)
if [ $? = 0 ] && ! grep -qi "relaymilter.service" <<<"$verify"; then
    ok "systemd-analyze verify $unit: no complaint"
else
    bad "systemd-analyze verify: $verify"
fi
exposure=$(systemd-analyze security --offline=true "$unit" 2>&1 | tail -1)
grep -q "Overall exposure level" <<<"$exposure" && ok "systemd-analyze security --offline=true: ${exposure#*→ }" ||
    bad "systemd-analyze security: $exposure"
echo "$exposure" >"$build/systemd-security.txt"

# --- upgrade over an edited conf, then remove and purge -------------------------------------------
echo "# kept across upgrades" >>/etc/relaymilter.conf
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall -o Dpkg::Options::=--force-confold "$deb" \
    >"$tmp/reinstall.out" 2>&1 || bad "reinstall"
grep -q "kept across upgrades" /etc/relaymilter.conf && ok "reinstalling keeps the admin's conf" || bad "the conf was replaced"
dpkg -r relaymilter >/dev/null 2>&1 || bad "dpkg -r"
[ ! -e /usr/sbin/relaymilter ] && [ -e /etc/relaymilter.conf ] && ok "removed: binary gone, conffile kept" ||
    bad "dpkg -r left the wrong files"
dpkg -P relaymilter >/dev/null 2>&1 || bad "dpkg -P"
[ ! -e /etc/relaymilter.conf ] && ok "purged: conf gone" || bad "purge left /etc/relaymilter.conf"

[ "$failures" = 0 ] || exit 1
echo "all package checks passed"
