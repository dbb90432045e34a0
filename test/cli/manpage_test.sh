#!/bin/bash
# manpage_test: relaymilter(8) and relaymilter.conf(5) pass mandoc's lint and groff's warnings,
# render with man -l, and agree with the program: every option --help lists is in relaymilter(8)
# and every option relaymilter(8) documents is in --help; every conf key is in relaymilter.conf(5).
#   manpage_test.sh RELAYMILTER
set -uo pipefail
bin=$(realpath "$1")
top=$(cd "$(dirname "$0")/../.." && pwd)
man8=$top/contrib/man/relaymilter.8
man5=$top/contrib/man/relaymilter.conf.5
failures=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }

for page in "$man8" "$man5"; do
    name=$(basename "$page")
    lint=$(mandoc -T lint "$page" 2>&1)
    [ -z "$lint" ] && ok "$name: mandoc -T lint clean" || { bad "$name: mandoc -T lint"; echo "$lint"; }
    warnings=$(groff -ww -man -z "$page" 2>&1)
    [ -z "$warnings" ] && ok "$name: groff -ww clean" || { bad "$name: groff warnings"; echo "$warnings"; }
    rendered=$(MANWIDTH=80 man -l "$page" 2>&1)
    grep -q "^NAME" <<<"$rendered" && ok "$name: renders with man -l" || bad "$name: does not render"
done

help_options=$("$bin" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
man_options=$(sed 's/\\-/-/g' "$man8" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
missing_in_man=$(comm -23 <(echo "$help_options") <(echo "$man_options"))
missing_in_help=$(comm -13 <(echo "$help_options") <(echo "$man_options"))
[ -z "$missing_in_man" ] && ok "every --help option ($(wc -l <<<"$help_options")) is in relaymilter(8)" ||
    bad "--help options missing from relaymilter(8): $missing_in_man"
[ -z "$missing_in_help" ] && ok "every option in relaymilter(8) is in --help" ||
    bad "options in relaymilter(8) that --help lacks: $missing_in_help"
short_help=$("$bin" --help | grep -oE -- '^ +-[a-zA-Z] ' | tr -d ' ' | sort -u)
for s in $short_help; do
    grep -q -- "^\.B[RI]* \\\\$s" "$man8" || bad "short option $s is not in relaymilter(8)"
done
ok "short options: $(echo $short_help)"

for key in local-domain allow-authenticated allow-net internal-address deny-net reject-reply mode allow-open-relay socket user pidfile log listen-backlog; do
    grep -q "\"$key = \|^\.BR\? \"$key = \|$key = " "$man5" || bad "conf key $key is not in relaymilter.conf(5)"
done
ok "every conf key is in relaymilter.conf(5)"
[ "$failures" = 0 ] || exit 1
