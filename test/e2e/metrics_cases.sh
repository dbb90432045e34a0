# metrics_cases.sh: relaymilter's metrics endpoint after real traffic through the MTA (mta_e2e.sh
# sources it, with the base conf in force and `metrics` on $METRICS_PORT). A scrape before and one
# after a known set of sessions: every relaymilter_decisions_total series must have moved by
# exactly what was sent, rule by rule, and no other; the sessions gauge must come back to 0; the
# scrape must satisfy `promtool check metrics`; and requests that are not a GET of /metrics get
# 404 and move nothing.

metrics_scrape "$METRICS_PORT" "$tmp/metrics.before" || bad "metrics: no scrape of 127.0.0.1:$METRICS_PORT"

relay_case "metrics traffic: 7 relay attempts from outside" 127.0.0.2 main - a@b.test \
    m1@gmail.com=refuse:default m2@gmail.com=refuse:default m3@gmail.com=refuse:default \
    m4@gmail.com=refuse:default m5@gmail.com=refuse:default m6@gmail.com=refuse:default m7@gmail.com=refuse:default
relay_case "metrics traffic: 3 from the deny-net client" 127.0.0.66 main - a@b.test \
    d1@gmail.com=refuse:deny-net d2@gmail.com=refuse:deny-net d3@gmail.com=refuse:deny-net
relay_case "metrics traffic: 5 local recipients from outside" 127.0.0.2 main - a@b.test \
    m1@example.com=accept m2@example.com=accept m3@example.com=accept m4@example.com=accept m5@example.com=accept
relay_case "metrics traffic: 2 allow-net relays" 127.0.0.3 main - a@b.test a1@gmail.com=accept a2@gmail.com=accept
relay_case "metrics traffic: 2 relays on the internal listener" 127.0.0.2 internal - a@b.test \
    i1@gmail.com=accept i2@gmail.com=accept
relay_case "metrics traffic: 2 authenticated relays" 127.0.0.2 main alice alice@example.com \
    s1@gmail.com=accept s2@gmail.com=accept
local_accepts=5 notices=0
if [ "$MTA_DSN" = rewrites ]; then  # the MTA lets relaymilter drop a notice request
    message_case "metrics traffic: a receipt asked by an outside client for a foreign sender" 127.0.0.2 main - \
        victim@foreign.example "m6@example.com NOTIFY=SUCCESS=notice-dropped:LOCAL" notice=none
    local_accepts=6 notices=1
fi
decided=$((16 + local_accepts))
want_changes="relaymilter_decisions_total{rule=\"allow-net\",verdict=\"accept\"} 2
relaymilter_decisions_total{rule=\"authenticated\",verdict=\"accept\"} 2
relaymilter_decisions_total{rule=\"default\",verdict=\"reject\"} 7
relaymilter_decisions_total{rule=\"deny-net\",verdict=\"reject\"} 3
relaymilter_decisions_total{rule=\"internal-address\",verdict=\"accept\"} 2
relaymilter_decisions_total{rule=\"local-domain\",verdict=\"accept\"} $local_accepts"

metrics_no_session() {
    metrics_scrape "$METRICS_PORT" "$tmp/metrics.after" && [ "$(metrics_value "$tmp/metrics.after" relaymilter_sessions)" = 0 ]
}
if harness_wait_for 30 metrics_no_session; then
    ok "metrics: relaymilter_sessions back to 0 once the sessions ended"
else
    bad "metrics: relaymilter_sessions is $(metrics_value "$tmp/metrics.after" relaymilter_sessions) 30 s after the last session, want 0"
fi
got=$(metrics_changes "$tmp/metrics.before" "$tmp/metrics.after" relaymilter_decisions_total)
if [ "$got" = "$want_changes" ]; then
    ok "metrics: decisions counted rule by rule as sent: $(awk '{ split($1, l, "\""); printf "%s%s %s %s", sep, $2, l[4], l[2]; sep = ", " }' <<<"$got")"
else
    bad "metrics: relaymilter_decisions_total moved by"
    sed 's/^/    got  /' <<<"$got"
    sed 's/^/    want /' <<<"$want_changes"
fi
got=$(metrics_changes "$tmp/metrics.before" "$tmp/metrics.after" relaymilter_decision_seconds_count)
[ "$got" = "relaymilter_decision_seconds_count $decided" ] &&
    ok "metrics: relaymilter_decision_seconds timed all $decided decisions" ||
    bad "metrics: relaymilter_decision_seconds_count moved by '${got#* }', want $decided"
got=$(metrics_changes "$tmp/metrics.before" "$tmp/metrics.after" relaymilter_notices_suppressed_total)
got=${got#* }
[ "${got:-0}" = "$notices" ] &&
    ok "metrics: relaymilter_notices_suppressed_total moved by $notices" ||
    bad "metrics: relaymilter_notices_suppressed_total moved by ${got:-0}, want $notices"
got=$(metrics_changes "$tmp/metrics.before" "$tmp/metrics.after" relaymilter_callback_errors_total)
[ -z "$got" ] && ok "metrics: no callback error counted" || bad "metrics: callback errors counted: $got"

if promtool check metrics <"$tmp/metrics.after" >"$tmp/promtool.out" 2>&1 && [ ! -s "$tmp/promtool.out" ]; then
    ok "metrics: promtool check metrics has nothing to say about the scrape after the traffic ($(grep -vc '^#' "$tmp/metrics.after") samples)"
else
    bad "metrics: promtool check metrics on the scrape after the traffic:"
    sed 's/^/    /' "$tmp/promtool.out"
fi

# Not a GET of /metrics: 404, and the next scrape differs from the last only by that scrape.
statuses=""
for request in "GET /" "GET /metrics/" "GET /nothing" "POST /metrics" "PUT /metrics" "DELETE /metrics"; do
    statuses+="$(metrics_status "$METRICS_PORT" "${request#* }" "${request%% *}") "
done
metrics_scrape "$METRICS_PORT" "$tmp/metrics.after404" || bad "metrics: no scrape after the 404s"
moved=$(metrics_changes "$tmp/metrics.after" "$tmp/metrics.after404" relaymilter_)
scrapes=$(metrics_changes "$tmp/metrics.after" "$tmp/metrics.after404" exposer_scrapes_total)
if [ "$statuses" = "404 404 404 404 404 404 " ] && [ -z "$moved" ] && [ "$scrapes" = "exposer_scrapes_total 1" ]; then
    ok "metrics: GET /, /metrics/, /nothing and POST, PUT, DELETE /metrics got 404 and moved nothing"
else
    bad "metrics: other requests got '$statuses' (want 404 each), moved '${moved:-nothing}' and scrapes by '${scrapes#* }' (want 1)"
fi
