#!/bin/bash
# install-deps: the Debian 12 packages relaymilter needs to build, run and test, installed
# non-interactively. Safe to run again. Postfix is preseeded to "No configuration" so that
# installing it neither asks questions nor starts a system mail server. The tests need only
# promtool from Debian's prometheus package: a Prometheus server this script installs is stopped
# and disabled again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  # build (prometheus-cpp-dev brings civetweb, the HTTP server of the metrics endpoint)
  cmake make g++ pkg-config libmilter-dev libboost-program-options-dev libhiredis-dev catch2 prometheus-cpp-dev
  # the metrics tests: promtool (check metrics, check rules, test rules)
  prometheus
  # the Redis limits store: its tests and benchmark start private redis-server instances (the
  # system instance Debian starts on 127.0.0.1:6379 is never used)
  redis-server
  # the milter protocol and real-MTA tests
  miltertest postfix swaks sasl2-bin libsasl2-modules util-linux procps iproute2 socat
  # fuzzing (clang; libFuzzer and the sanitizer runtimes are in libclang-rt-14-dev, which clang
  # only recommends), leak checks, man page lint, packaging
  clang libclang-rt-14-dev valgrind mandoc groff-base man-db dpkg-dev file systemd
  # the Debian package (debhelper, the package's Build-Depends, lintian; its Rules-Requires-Root
  # is "no", so no fakeroot) and the install test in a fresh Debian 12 tree (debootstrap)
  build-essential debhelper lintian debootstrap debian-archive-keyring
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus.service
  echo "install-deps: the Prometheus server Debian's prometheus package started is stopped and disabled (the tests use only promtool)"
fi
