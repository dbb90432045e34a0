#!/bin/bash
# manpage_test: relaymilter(8) and relaymilter.conf(5) pass mandoc's lint and groff's warnings,
# render with man -l, and agree with the program: every option --help lists is in relaymilter(8)
# and every option relaymilter(8) documents is in --help; every conf key is in relaymilter.conf(5);
# every metric the daemon serves is in relaymilter(8).
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

# The keys as the conf reader's table names them (policy/conf.cpp, one row per key).
keys=$(grep -oE '^    \{"[a-z-]+", (true|false),' "$top/policy/conf.cpp" | cut -d'"' -f2)
[ "$(wc -w <<<"$keys")" -ge 12 ] || bad "found only $(wc -w <<<"$keys") keys in policy/conf.cpp"
for key in $keys; do
    grep -q "\"$key = \|^\.BR\? \"$key = \|$key = " "$man5" || bad "conf key $key is not in relaymilter.conf(5)"
done
ok "every conf key ($(wc -w <<<"$keys")) is in relaymilter.conf(5)"
# The metrics as the code names them (milter/metrics.cpp, milter/process_metrics.cpp).
metrics=$(grep -ohE '"(relaymilter|process)_[a-z_]+"' "$top/milter/metrics.cpp" "$top/milter/process_metrics.cpp" | tr -d '"' | sort -u)
[ "$(wc -w <<<"$metrics")" -ge 15 ] || bad "found only $(wc -w <<<"$metrics") metrics in milter/"
metrics_section=$(sed -n '/^\.SH METRICS/,/^\.SH /p' "$man8")
for metric in $metrics; do
    grep -qE "^\.BR? $metric( |{|$)|\" $metric( |$)" <<<"$metrics_section" || bad "metric $metric is not in relaymilter(8) METRICS"
done
ok "every metric ($(wc -w <<<"$metrics")) is in relaymilter(8) METRICS"
[ "$failures" = 0 ] || exit 1
