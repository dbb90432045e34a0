#!/bin/bash
# mta_bench: what relaymilter costs inside a real Postfix, side by side with the alternatives, in
# one run. Prints figures; asserts nothing (it only checks that each configuration did what it
# should: every message delivered, or every recipient refused). Run as root:
#   test/bench/mta_bench.sh BUILD_DIR [--quick]
#
#  1. Round trips per SMTP session, counted by a proxy between Postfix and the milter.
#  2. Throughput with Postfix's smtp-source (-s 20 sessions at once, one message per session),
#     configurations interleaved round by round, medians:
#       a        Postfix's own relay restrictions, no milter (permit_sasl_authenticated,
#                check_client_access cidr:, reject_unauth_destination)
#       b        relaymilter on a UNIX socket;  b-tcp on a TCP socket;  b-full with --protocol full
#       b-100k   relaymilter with 100,000 more allow/deny nets in its conf
#       b-metrics relaymilter with its metrics endpoint on, scraped once a second meanwhile
#       c        a do-nothing libmilter milter (null_milter plain); c-lean negotiates as relaymilter
#     for two mixes: allowed relays (accepted and delivered to a discard transport) and relay
#     attempts refused at RCPT. In the refused mix the do-nothing milters cannot refuse, so
#     Postfix's own restriction (as in a) refuses there, with the milter attached.
#  3. Reload of a 1M-rule conf under traffic: its time, and whether any session failed.
#  4. The policy lookup benchmark (policy_bench --quick).
#  5. Authenticated relays (smtp_load --kinds auth: SMTP AUTH, then a foreign recipient), configs
#     interleaved round by round, medians: relaymilter with no limit keys; with login limits in
#     the memory store; with them in a private redis-server on loopback (limits-store). The
#     limits are set high enough that nothing is refused: this is their cost, not their effect.
# PARTS="1 3" runs only those parts; CONFIGS="b b-metrics" only those configurations of part 2.
set -uo pipefail
build=$(realpath "${1:?usage: mta_bench.sh BUILD_DIR [--quick]}")
quick=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/harness.sh"
. "$here/../e2e/postfix_lib.sh"
. "$here/../lib/metrics_lib.sh"
. "$here/../lib/redis_lib.sh"
trap 'pf_stop; redis_stop_all "$HARNESS_TMP"; harness_cleanup' EXIT
[ "$(id -u)" = 0 ] || harness_fail "run as root"

PARTS=${PARTS:-1 2 3 4 5}
part() { [[ " $PARTS " == *" $1 "* ]]; }
MESSAGES=${MESSAGES:-2000}
ROUNDS=${ROUNDS:-5}
AUTH_SECONDS=${AUTH_SECONDS:-10}
if [ "$quick" = --quick ]; then MESSAGES=400; ROUNDS=3; AUTH_SECONDS=4; fi
SESSIONS=20
relaymilter=$build/milter/relaymilter
harness_tmpdir
tmp=$HARNESS_TMP
run=$tmp/run
mkdir "$run"
chown postfix "$run"

# --- confs ------------------------------------------------------------------------------------
printf 'local-domain = example.com\nallow-net = 127.0.0.1\nlog = stderr\n' >"$tmp/allow.conf"
printf 'local-domain = example.com\nallow-net = 10.0.0.0/8\nlog = stderr\n' >"$tmp/refuse.conf"
echo "127.0.0.1 OK" >"$tmp/allow.cidr"
echo "10.0.0.0/8 OK" >"$tmp/refuse.cidr"
# N random nets (half IPv4 /24 outside 127/8, half IPv6 /64), a fifth of them deny-net.
random_nets() {
    awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed)
        for (i = 0; i < n; i++) {
            key = (rand() < 0.2) ? "deny-net" : "allow-net"
            if (i % 2 == 0) printf "%s = %d.%d.%d.0/24\n", key, 11 + int(rand() * 100), int(rand() * 256), int(rand() * 256)
            else printf "%s = 2001:db8:%x:%x::/64\n", key, int(rand() * 65536), int(rand() * 65536)
        } }'
}
random_nets 100000 1 >"$tmp/nets-100k"
cat "$tmp/allow.conf" "$tmp/nets-100k" >"$tmp/allow-100k.conf"
cat "$tmp/refuse.conf" "$tmp/nets-100k" >"$tmp/refuse-100k.conf"
"$relaymilter" -c "$tmp/allow-100k.conf" -p "unix:$run/check.sock" -n >/dev/null || harness_fail "the 100k conf does not load"
metrics_port=$(harness_free_port)
for mix in allow refuse; do
    { cat "$tmp/$mix.conf"; echo "metrics = inet:$metrics_port@127.0.0.1"; } >"$tmp/$mix-metrics.conf"
done

# --- milters ----------------------------------------------------------------------------------
MILTER_PID=""
# start_milter KIND [ARGS]: relaymilter CONF [PROTOCOL] [tcp] | null MODE; sets MILTER_SPEC (Postfix's form).
start_milter() {
    stop_milter
    local kind=$1 socket=$run/milter.sock
    rm -f "$socket"
    MILTER_SPEC=unix:$socket
    local listen=unix:$socket
    if [ "${4:-}" = tcp ]; then
        local port
        port=$(harness_free_port)
        listen=inet:$port@127.0.0.1
        MILTER_SPEC=inet:127.0.0.1:$port
    fi
    case $kind in
      relaymilter)
        cp "$2" "$tmp/live.conf"
        "$relaymilter" -c "$tmp/live.conf" -f -p "$listen" -u postfix --log stderr --protocol "${3:-lean}" 2>>"$tmp/relaymilter.log" & ;;
      null)
        setpriv --reuid=postfix --regid=postfix --init-groups -- "$build/test/bench/null_milter" "$listen" "$2" & ;;
    esac
    MILTER_PID=$!
    harness_track "$MILTER_PID"
    if [ "${4:-}" = tcp ]; then
        harness_wait_for 10 harness_port_open "$port" || harness_fail "milter did not listen"
    else
        harness_wait_for 10 test -S "$socket" || harness_fail "milter did not make its socket"
    fi
}
stop_milter() { [ -z "$MILTER_PID" ] || harness_stop_pid "$MILTER_PID"; MILTER_PID=""; }
# Swaps relaymilter's conf in place (SIGHUP) and waits for the reload line.
swap_conf() {
    local before
    before=$(grep -c "reload: " "$tmp/relaymilter.log")
    cp "$1" "$tmp/live.conf"
    kill -HUP "$MILTER_PID"
    harness_wait_for 30 bash -c "[ \$(grep -c 'reload: ' $tmp/relaymilter.log) -gt $before ]" || harness_fail "no reload"
}

# --- Postfix configurations -------------------------------------------------------------------
postfix_milter() {  # postfix_milter SPEC: relay decision left to the milter
    postconf -c "$PF_DIR/etc" "relay_domains = static:ALL" \
        "smtpd_relay_restrictions = permit_auth_destination, reject_unauth_destination" "smtpd_milters = $1"
    pf_postfix reload >/dev/null 2>&1
    sleep 1
}
postfix_own() {  # postfix_own MIX [MILTER_SPEC]: Postfix's own restrictions decide
    postconf -c "$PF_DIR/etc" "relay_domains = example.com" \
        "smtpd_relay_restrictions = permit_sasl_authenticated, check_client_access cidr:$tmp/$1.cidr, reject_unauth_destination" \
        "smtpd_milters = ${2:-}"
    pf_postfix reload >/dev/null 2>&1
    sleep 1
}

# --- load -------------------------------------------------------------------------------------
log_count() { grep -c -- "$1" "$PF_DIR/maillog" 2>/dev/null || true; }
# load MIX: smtp-source, SESSIONS at once, MESSAGES messages; prints messages per second.
# Checks that every message was delivered (allow) or every recipient refused (refuse).
load() {
    local mix=$1 pattern want before start end n
    if [ "$mix" = allow ]; then pattern="status=sent"; else pattern="NOQUEUE: .*RCPT from"; fi
    before=$(grep -c -E -- "$pattern" "$PF_DIR/maillog" || true)
    start=$(date +%s%N)
    smtp-source -A -s "$SESSIONS" -m "$MESSAGES" -f a@b.test -t user@gmail.com "127.0.0.1:$PF_PORT" >/dev/null 2>&1
    end=$(date +%s%N)
    want=$((before + MESSAGES))
    for _ in $(seq 1 100); do
        n=$(grep -c -E -- "$pattern" "$PF_DIR/maillog" || true)
        [ "$n" -ge "$want" ] && break
        sleep 0.1
    done
    [ "$n" -eq "$want" ] || harness_fail "$mix: $((n - before)) of $MESSAGES messages went as expected"
    awk -v m="$MESSAGES" -v ns="$((end - start))" 'BEGIN { printf "%.0f", m / (ns / 1e9) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

pf_start "$tmp/pf" "unix:$run/milter.sock"
echo "mta_bench: Postfix $(postconf -d -h mail_version), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
echo

# --- 1. round trips ---------------------------------------------------------------------------
if part 1; then
echo "1. Milter round trips per SMTP session (counted by test/bench/milter_counter between Postfix and the milter)"
printf "   %-34s %-22s %10s %20s\n" milter session "MTA packets" "replies (round trips)"
count_session() {  # count_session LABEL KIND ARGS...: one session of each shape through the proxy
    local label=$1
    shift
    start_milter "$@"
    local counter_socket=$run/counter.sock
    rm -f "$counter_socket" "$tmp/count.txt"
    "$build/test/bench/milter_counter" "unix:$counter_socket" "$MILTER_SPEC" "$tmp/count.txt" &
    local counter=$!
    harness_track "$counter"
    harness_wait_for 10 test -S "$counter_socket"
    postfix_milter "unix:$counter_socket"
    for shape in "1 message, 1 rcpt|-r 1" "1 message, 3 rcpts|-r 3"; do
        : >"$tmp/count.txt"
        smtp-source -A -s 1 -m 1 ${shape#*|} -f a@b.test -t user@gmail.com "127.0.0.1:$PF_PORT" >/dev/null 2>&1
        harness_wait_for 5 test -s "$tmp/count.txt"
        printf "   %-34s %-22s %10s %20s\n" "$label" "${shape%|*}" \
            "$(sed -E 's/.*packets_mta=([0-9]+).*/\1/' "$tmp/count.txt")" \
            "$(sed -E 's/.*packets_milter=([0-9]+).*/\1/' "$tmp/count.txt")"
    done
    harness_stop_pid "$counter"
}
count_session "relaymilter (lean, the default)" relaymilter "$tmp/allow.conf" lean
count_session "relaymilter --protocol full" relaymilter "$tmp/allow.conf" full
count_session "null_milter plain (no negotiation)" null plain
count_session "null_milter lean" null lean
count_session "null_milter bare (no callbacks)" null bare
echo "   (relaymilter lean: negotiation, then RCPT, DATA and end of message answered; connect and MAIL unanswered)"
echo
fi

# --- 2. throughput ----------------------------------------------------------------------------
if part 2; then
echo "2. Throughput: smtp-source -s $SESSIONS -m $MESSAGES per run, one message per session, $ROUNDS rounds"
read -r -a configs <<<"${CONFIGS:-a b b-tcp b-full b-100k b-metrics c c-lean}"
declare -A result
for round in $(seq 1 "$ROUNDS"); do
    for config in "${configs[@]}"; do
        for mix in allow refuse; do
            case $config in
              a)      stop_milter; postfix_own "$mix" ;;
              b)      start_milter relaymilter "$tmp/$mix.conf"; postfix_milter "$MILTER_SPEC" ;;
              b-tcp)  start_milter relaymilter "$tmp/$mix.conf" lean tcp; postfix_milter "$MILTER_SPEC" ;;
              b-full) start_milter relaymilter "$tmp/$mix.conf" full; postfix_milter "$MILTER_SPEC" ;;
              b-100k) start_milter relaymilter "$tmp/$mix-100k.conf"; postfix_milter "$MILTER_SPEC" ;;
              b-metrics)
                start_milter relaymilter "$tmp/$mix-metrics.conf"; postfix_milter "$MILTER_SPEC"
                harness_wait_for 10 harness_port_open "$metrics_port" || harness_fail "no metrics endpoint"
                ( while metrics_scrape "$metrics_port" "$tmp/bench.scrape"; do sleep 1; done ) &
                scraper=$! ;;
              c|c-lean)
                local_mode=plain; [ "$config" = c-lean ] && local_mode=lean
                start_milter null "$local_mode"
                if [ "$mix" = allow ]; then postfix_milter "$MILTER_SPEC"; else postfix_own refuse "$MILTER_SPEC"; fi ;;
            esac
            result[$config,$mix]+="$(load "$mix") "
            if [ "$config" = b-metrics ]; then
                kill "$scraper"; wait "$scraper" 2>/dev/null
                [ "$(metrics_value "$tmp/bench.scrape" relaymilter_sessions)" != absent ] || harness_fail "b-metrics: no scrape"
            fi
        done
    done
    echo "   round $round done"
done
stop_milter

ratio() {  # ratio X Y MIX: median over rounds of X/Y
    local -a xs ys
    read -r -a xs <<<"${result[$1,$3]}"
    read -r -a ys <<<"${result[$2,$3]}"
    for i in "${!xs[@]}"; do awk -v x="${xs[$i]}" -v y="${ys[$i]}" 'BEGIN { printf "%.3f\n", x / y }'; done | median
}
med() { tr ' ' '\n' <<<"${result[$1,$2]}" | sed '/^$/d' | median; }
echo
printf "   %-56s %16s %16s\n" "messages per second (median of $ROUNDS)" "allowed relays" "refused relays"
describe=(
  "a       Postfix's own restrictions, no milter"
  "b       relaymilter, UNIX socket"
  "b-tcp   relaymilter, TCP socket"
  "b-full  relaymilter --protocol full, UNIX socket"
  "b-100k  relaymilter, 100k more nets in its conf"
  "b-metrics relaymilter, metrics on, scraped every second"
  "c       do-nothing milter (plain), UNIX socket"
  "c-lean  do-nothing milter negotiating as relaymilter"
)
for line in "${describe[@]}"; do
    config=${line%% *}
    [ -n "${result[$config,allow]:-}" ] || continue
    printf "   %-56s %16s %16s\n" "$line" "$(med "$config" allow)" "$(med "$config" refuse)"
done
echo
printf "   %-56s %16s %16s\n" "ratios (median of per-round ratios)" "allowed" "refused"
for pair in "b a" "b c" "b c-lean" "b-tcp b" "b-100k b" "b-full b" "b-metrics b"; do
    set -- $pair
    [ -n "${result[$1,allow]:-}" ] && [ -n "${result[$2,allow]:-}" ] || continue
    printf "   %-56s %16s %16s\n" "$1/$2" "$(ratio "$1" "$2" allow)" "$(ratio "$1" "$2" refuse)"
done
echo
fi

# --- 3. reload of a 1M-rule conf under traffic ------------------------------------------------
if part 3; then
echo "3. Reload of a 1,000,000-rule conf under traffic"
cp "$tmp/allow.conf" "$tmp/allow-1m.conf"
random_nets 1000000 2 >>"$tmp/allow-1m.conf"
start_milter relaymilter "$tmp/allow-1m.conf"
postfix_milter "$MILTER_SPEC"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$MILTER_PID/status"; }
echo "   start-up: $(grep 'starting:' "$tmp/relaymilter.log" | tail -1 | sed 's/.*: \([0-9]* local-domain.*\)/\1/' | cut -c1-60)...; RSS $(( $(rss_kb) / 1024 )) MiB"
before_fail=$(log_count "milter.*451\|Service unavailable")
before_sent=$(log_count "status=sent")
smtp-source -s "$SESSIONS" -m $((MESSAGES * 2)) -f a@b.test -t user@gmail.com "127.0.0.1:$PF_PORT" >"$tmp/reload-load.out" 2>&1 &
loader=$!
sleep 1
peak=0
for i in 1 2; do
    swap_conf "$tmp/allow-1m.conf"
    r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r
    echo "   $(grep 'reload: ' "$tmp/relaymilter.log" | tail -1 | sed 's/.*\(loaded in [0-9.]* s\).*/reload \1/'), RSS after it $((r / 1024)) MiB"
done
wait "$loader"
loader_status=$?
for _ in $(seq 1 100); do [ "$(log_count "status=sent")" -ge $((before_sent + MESSAGES * 2)) ] && break; sleep 0.1; done
echo "   traffic meanwhile: $((MESSAGES * 2)) messages sent, $(( $(log_count "status=sent") - before_sent )) delivered," \
     "$(( $(log_count "milter.*451\|Service unavailable") - before_fail )) tempfailed, smtp-source exit $loader_status"
stop_milter
echo
fi

# --- 4. policy lookups ------------------------------------------------------------------------
if part 4; then
echo "4. Policy lookups (build/test/bench/policy_bench --quick)"
"$build/test/bench/policy_bench" --quick | sed 's/^/   /'
fi

# --- 5. authenticated relays: no limits, limits in memory, limits in Redis ---------------------
if part 5; then
echo
echo "5. Authenticated relays: smtp_load --kinds auth, $SESSIONS sessions at once, ${AUTH_SECONDS} s per run, $ROUNDS rounds"
redis_port=$(harness_free_port)
redis_start "$tmp" bench-redis "$redis_port" || harness_fail "no redis-server"
limits="login-recipient-limit = 1000000/1h
login-message-limit = 1000000/1h
login-client-limit = 1000/1d"
printf 'local-domain = example.com\nlog = stderr\n' >"$tmp/auth-none.conf"
printf 'local-domain = example.com\nlog = stderr\n%s\n' "$limits" >"$tmp/auth-memory.conf"
printf 'local-domain = example.com\nlog = stderr\n%s\nlimits-store = redis://127.0.0.1:%s\n' "$limits" "$redis_port" >"$tmp/auth-redis.conf"
declare -A auth
for round in $(seq 1 "$ROUNDS"); do
    for config in none memory redis; do
        start_milter relaymilter "$tmp/auth-$config.conf"
        postfix_milter "$MILTER_SPEC"
        start=$(date +%s%N)
        "$build/test/smtp_load" --server "127.0.0.1:$PF_PORT" --sessions "$SESSIONS" --seconds "$AUTH_SECONDS" \
            --kinds auth --auth-user alice@mx.example.test --auth-password secret --out "$tmp/auth.sessions" >"$tmp/auth.summary"
        end=$(date +%s%N)
        n=$(wc -l <"$tmp/auth.sessions")
        right=$(awk '$4 == "ok"' "$tmp/auth.sessions" | wc -l)
        [ "$n" -gt 0 ] && [ "$right" = "$n" ] || harness_fail "auth $config: $right of $n sessions relayed: $(cat "$tmp/auth.summary")"
        auth[$config]+="$(awk -v n="$n" -v ns="$((end - start))" 'BEGIN { printf "%.1f", n / (ns / 1e9) }') "
    done
    echo "   round $round done"
done
stop_milter
grep -q "store: redis://127.0.0.1:$redis_port down" "$tmp/relaymilter.log" && harness_fail "the Redis store went down during the runs"
keys=$(redis-cli -p "$redis_port" --scan --pattern 'relaymilter:*' | wc -l)
[ "$keys" -gt 0 ] || harness_fail "the redis config counted nothing in Redis"
auth_med() { tr ' ' '\n' <<<"${auth[$1]}" | sed '/^$/d' | median; }
auth_ratio() {
    local -a xs ys
    read -r -a xs <<<"${auth[$1]}"
    read -r -a ys <<<"${auth[$2]}"
    for i in "${!xs[@]}"; do awk -v x="${xs[$i]}" -v y="${ys[$i]}" 'BEGIN { printf "%.3f\n", x / y }'; done | median
}
echo
printf "   %-56s %16s\n" "authenticated relays: sessions per second (median of $ROUNDS)" ""
printf "   %-56s %16s\n" "none    relaymilter, no limit keys" "$(auth_med none)"
printf "   %-56s %16s\n" "memory  login limits, memory store" "$(auth_med memory)"
printf "   %-56s %16s\n" "redis   login limits, Redis store on loopback" "$(auth_med redis)"
printf "   %-56s %16s\n" "memory/none (median of per-round ratios)" "$(auth_ratio memory none)"
printf "   %-56s %16s\n" "redis/memory" "$(auth_ratio redis memory)"
echo "   ($keys relaymilter:* keys in Redis afterwards: the redis runs counted there)"
fi
