# metrics_lib.sh: reading a running relaymilter's metrics endpoint from the tests, with bash's own
# /dev/tcp (no HTTP client to install), one HTTP/1.0 request per connection, each bounded to
# 10 s. Sourced by the tests that scrape a real daemon (mta_e2e.sh, metrics_daemon_test.sh,
# load_test.sh).

# metrics_request PORT PATH [METHOD]: the whole response (status line, headers, body, CRs kept).
metrics_request() {
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
        printf "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" "$1" >&3
        cat <&3' "$1" "$2" "${3:-GET}"
}

# metrics_status PORT PATH [METHOD]: the response's status code, or "none" (no answer).
metrics_status() {
    local code
    code=$(metrics_request "$@" 2>/dev/null | head -1 | awk '{print $2}')
    echo "${code:-none}"
}

# metrics_scrape PORT FILE: GET /metrics into FILE (the body only); fails unless the answer is 200.
metrics_scrape() {
    local response
    response=$(metrics_request "$1" /metrics 2>/dev/null) || return 1
    [[ $response == "HTTP/1.1 200 "* ]] || return 1
    sed '1,/^\r$/d' <<<"$response" >"$2"
}

# metrics_value FILE SERIES: the value of SERIES (a name with its labels as exposed, e.g.
# 'relaymilter_rules{kind="allow-net"}'), or "absent".
metrics_value() {
    awk -v s="$2" '$1 == s { print $2; found = 1; exit } END { if (!found) print "absent" }' "$1"
}

# metrics_changes BEFORE AFTER PREFIX: "SERIES DELTA" for every series starting with PREFIX whose
# value differs between the two scrapes (a series new in AFTER counts from 0), sorted.
metrics_changes() {
    awk -v p="$3" 'index($1, p) != 1 { next }
        FNR == NR { before[$1] = $2; next }
        { d = $2 - before[$1]; if (d != 0) printf "%s %g\n", $1, d }' "$1" "$2" | sort
}
