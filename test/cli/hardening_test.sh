#!/bin/bash
# hardening_test: the relaymilter binary is built hardened: PIE, full RELRO (read-only relocations
# and immediate binding), stack protector, _FORTIFY_SOURCE checked calls, no executable stack.
# These are what Debian's hardening-check looks at, read here with readelf.
#   hardening_test.sh RELAYMILTER
set -uo pipefail
bin=$(realpath "$1")
failures=0
check() {  # check LABEL COMMAND...
    local label=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok   $label"; else echo "FAIL $label"; failures=$((failures + 1)); fi
}
headers=$(readelf -W -h -l -d "$bin")
symbols=$(readelf -W --dyn-syms "$bin")
check "PIE (ELF type DYN, DT_FLAGS_1 has PIE)" bash -c 'grep -q "Type:.*DYN" <<<"$0" && grep -q "FLAGS_1.*PIE" <<<"$0"' "$headers"
check "full RELRO: a GNU_RELRO segment and BIND_NOW" bash -c 'grep -q "GNU_RELRO" <<<"$0" && grep -qE "BIND_NOW|FLAGS.*NOW" <<<"$0"' "$headers"
check "stack protector (__stack_chk_fail used)" grep -q "__stack_chk_fail" <<<"$symbols"
check "_FORTIFY_SOURCE (checked __*_chk calls used)" grep -qE "__[a-z]+_chk" <<<"$symbols"
check "no executable stack (GNU_STACK is RW)" bash -c 'grep "GNU_STACK" <<<"$0" | grep -q " RW "' "$headers"
[ "$failures" = 0 ] && echo "the binary is hardened" || exit 1
