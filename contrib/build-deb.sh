#!/bin/bash
# build-deb: builds the Debian packages as Debian packagers do: a copy of this tree with
# contrib/debian as its debian/, then `dpkg-buildpackage -us -uc -b`, which refuses to start
# while a Build-Depends is missing. The .debs land in OUT (default: build-deb/ in the tree).
#   contrib/build-deb.sh [OUT]
# Not a release tool: unsigned, binary only, nothing uploaded.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/build-deb}")
version=$(dpkg-parsechangelog -l "$top/contrib/debian/changelog" -S Version)
src=$out/relaymilter-${version%-*}

rm -rf "$src"
mkdir -p "$src"
tar -C "$top" --anchored --exclude=./.git --exclude='./build*' --exclude='./cmake-build*' -cf - . |
    tar -C "$src" -xf -
cp -r "$src/contrib/debian" "$src/debian"
# Two jobs at most: the build machines are shared.
(cd "$src" && dpkg-buildpackage -us -uc -b -J2)
ls "$out/relaymilter_${version}_"*.deb
