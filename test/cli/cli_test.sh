#!/bin/bash
# CLI golden tests: the real relaymilter binary, its output and its exit codes for --help,
# --version, --check-config and --explain, good and bad input. Run: cli_test.sh RELAYMILTER
set -u
bin=$(realpath "${1:?usage: cli_test.sh path/to/relaymilter}")
here=$(cd "$(dirname "$0")" && pwd)
failures=0

# check LABEL WANT_CODE WANT_OUTPUT_FILE_OR_TEXT -- ARGS... : compares exit code and combined output.
check() {
    local label=$1 want_code=$2 want=$3
    shift 4
    local got code
    got=$("$bin" "$@" 2>&1)
    code=$?
    if [ "$code" != "$want_code" ]; then
        echo "FAIL $label: exit code got $code, want $want_code"; echo "$got" | sed 's/^/    /'
        failures=$((failures + 1)); return
    fi
    if [ "$got" != "$want" ]; then
        echo "FAIL $label: output differs"; diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
        failures=$((failures + 1)); return
    fi
    echo "ok   $label"
}

# contains LABEL WANT_CODE SUBSTRING -- ARGS... : exit code and a substring of the output.
contains() {
    local label=$1 want_code=$2 want=$3
    shift 4
    local got code
    got=$("$bin" "$@" 2>&1)
    code=$?
    if [ "$code" != "$want_code" ] || [[ "$got" != *"$want"* ]]; then
        echo "FAIL $label: got exit $code and:"; echo "$got" | sed 's/^/    /'
        echo "    want exit $want_code and output containing: $want"
        failures=$((failures + 1)); return
    fi
    echo "ok   $label"
}

cd "$here"
version=$(sed -n 's/^project(relaymilter VERSION \([0-9.]*\).*/\1/p' ../../CMakeLists.txt)
check "--version" 0 "relaymilter $version" -- --version
check "-V" 0 "relaymilter $version" -- -V
contains "--help shows usage" 0 "Usage: relaymilter [-c FILE]" -- --help
contains "--help lists exit codes" 0 "73 pid file, 77 cannot drop privileges, 78 configuration error." -- --help
contains "--help lists --explain" 0 "--explain" -- -h
contains "unknown option is a usage error" 64 "relaymilter: unrecognised option '--bogus'" -- --bogus

check "--check-config on a good conf" 0 \
    "good.conf: OK: 3 local-domain, 2 allow-net, 1 deny-net, 1 internal-address, allow-authenticated=yes, mode=enforce" \
    -- -c good.conf --check-config
check "-n on a good conf" 0 \
    "good.conf: OK: 3 local-domain, 2 allow-net, 1 deny-net, 1 internal-address, allow-authenticated=yes, mode=enforce" \
    -- -c good.conf -n
check "--check-config on a bad conf lists every error with FILE:LINE" 78 \
"bad.conf:2: local-domain: '*.example.com': wildcards are not supported; did you mean '.example.com' (every subdomain)?
bad.conf:3: unknown key 'allow_net'; did you mean 'allow-net'?
bad.conf:4: allow-net: 10.1.2.3/8: host bits set; did you mean 10.0.0.0/8?
bad.conf:5: mode: 'maybe' is not enforce or dry-run
bad.conf:6: allow-net = 0.0.0.0/0: covers every address and makes an open relay; set allow-open-relay = yes if that is really meant
bad.conf:7: socket: 'tcp:8890': unknown socket type 'tcp' (use unix, inet or inet6)" \
    -- -c bad.conf -n
contains "--check-config: a socket directory that does not exist is a warning, exit 0" 0 \
    "good.conf: warning: socket unix:/nonexistent-dir/r.sock: the directory /nonexistent-dir does not exist" \
    -- -c good.conf -p unix:/nonexistent-dir/r.sock -n
contains "--check-config: a user that does not exist is an error, exit 78" 78 \
    "good.conf: user 'no-such-user-rm': no such user (the daemon would stop with exit 78)" \
    -- -c good.conf -u no-such-user-rm -n
printf 'allow-net = 192.0.2.0/24\n' >"${TMPDIR:-/tmp}/relaymilter-cli-nolocal.$$.conf"
contains "--check-config: no local-domain is a warning" 0 \
    "warning: no local-domain: every recipient is a relay attempt" \
    -- -c "${TMPDIR:-/tmp}/relaymilter-cli-nolocal.$$.conf" -n
rm -f "${TMPDIR:-/tmp}/relaymilter-cli-nolocal.$$.conf"
check "--check-config on a missing file" 78 "/nonexistent.conf: cannot open: No such file or directory" \
    -- -c /nonexistent.conf -n

check "--explain: outside client" 0 \
'REJECT <user@example.net> rule=default reply="550 5.7.1 Relaying prohibited" why="relay attempt (domain example.net is not local); client 203.0.113.9 is in no allow-net; not authenticated; listener unknown"
ACCEPT <postmaster@example.com> rule=local-domain why="domain example.com is local-domain example.com (good.conf:2)"
REJECT <u%gmail.com@example.com> rule=default reply="550 5.7.1 Relaying prohibited" why="relay attempt ('"'"'%'"'"' in the local part); client 203.0.113.9 is in no allow-net; not authenticated; listener unknown"' \
    -- -c good.conf --explain --client 203.0.113.9 --from '<>' --rcpt user@example.net --rcpt '<postmaster@example.com>' \
    --rcpt 'u%gmail.com@example.com'
check "--explain: allow-net" 0 \
'ACCEPT <u@example.net> rule=allow-net why="client 192.168.1.7 is in allow-net 192.168.1.0/24 (good.conf:5)"' \
    -- -c good.conf --explain --client 192.168.1.7 --rcpt u@example.net
check "--explain: authenticated" 0 \
'ACCEPT <u@example.net> rule=authenticated why="client authenticated as alice"' \
    -- -c good.conf --explain --client 203.0.113.9 --auth alice --rcpt u@example.net
check "--explain: internal listener, IPv6 client" 0 \
'ACCEPT <u@example.net> rule=internal-address why="listener 192.0.2.26 is in internal-address 192.0.2.26 (good.conf:7)"' \
    -- -c good.conf --explain --client 2001:db8:9::1 --listener 192.0.2.26 --rcpt u@example.net
check "--explain: deny-net beats authenticated" 0 \
'REJECT <u@example.net> rule=deny-net reply="550 5.7.1 Relaying prohibited" why="client 192.168.1.66 is in deny-net 192.168.1.66 (good.conf:8)"' \
    -- -c good.conf --explain --client 192.168.1.66 --auth alice --rcpt u@example.net
check "--explain: a client that is no IP address" 64 \
    "relaymilter: --client 'mail.example.net' is not an IPv4 or IPv6 address (see relaymilter --help)" \
    -- -c good.conf --explain --client mail.example.net --rcpt u@example.net
check "--explain without --rcpt" 64 \
    "relaymilter: --explain needs --client IP and at least one --rcpt ADDR (see relaymilter --help)" \
    -- -c good.conf --explain --client 192.0.2.1
check "--rcpt without --explain" 64 "relaymilter: --rcpt goes with --explain (see relaymilter --help)" \
    -- -c good.conf --rcpt u@example.net
check "--explain on a bad conf" 78 "$("$bin" -c bad.conf -n 2>&1)" \
    -- -c bad.conf --explain --client 192.0.2.1 --rcpt u@example.net
check "bad --socket" 64 \
    "relaymilter: --socket 'inet:99999@127.0.0.1': '99999' is not a port from 1 to 65535 (see relaymilter --help)" \
    -- -c good.conf -p inet:99999@127.0.0.1 -f
check "bad --log" 64 "relaymilter: --log 'file' is not syslog or stderr (see relaymilter --help)" \
    -- -c good.conf --log file -f

echo
if [ "$failures" -ne 0 ]; then echo "$failures CLI test(s) failed"; exit 1; fi
echo "all CLI tests passed"
