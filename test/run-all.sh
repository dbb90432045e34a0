#!/bin/bash
# run-all: installs what the tests need, builds relaymilter, and runs every test (unit, CLI,
# milter protocol, real Postfix and Sendmail end to end). Run as root on Debian 12:
#   ./test/run-all.sh
# Safe to run twice. The build goes to ./build (override with BUILD_DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}

"$top/contrib/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j2
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
