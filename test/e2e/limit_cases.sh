# limit_cases.sh: the login limits end to end (see relay_cases.sh for the form; mta_e2e.sh sources
# it). Authentication allows relay only on the submission listener; alice may relay 4 recipients
# an hour; a login used from a 4th client address within a day is locked. allow-net clients are
# not counted, local mail never is, and a reload keeps the counters.

REPLY_FOR[login-limit]="452 4.7.1 Slow down: relay limit reached"
REPLY_FOR[login-locked]="550 5.7.1 This login may not relay now; contact your administrator"
limits=("authenticated-port = $(mta_submission_port)" "login-recipient-limit = 4/1h" "login-client-limit = 3/1d"
        "limit-reply = ${REPLY_FOR[login-limit]}")
reload_conf "${limits[@]}"

relay_case "AUTH relay on the MTA's own port, authenticated-port set: refused" 127.0.0.2 main alice \
    alice@example.com l0@gmail.com=refuse:default
relay_case "AUTH relay on the submission port: accepted (1 of 4)" 127.0.0.2 submission alice \
    alice@example.com l1@gmail.com=accept
message_case "alice: a message with two more (3 of 4) and a local recipient" 127.0.0.2 submission alice \
    alice@example.com l2@gmail.com=delivered:RELAYED l3@gmail.com=delivered:RELAYED u1@example.com=delivered:LOCAL notice=none
relay_case "alice: the 4th is accepted, the 5th and 6th get limit-reply" 127.0.0.2 submission alice \
    alice@example.com l4@gmail.com=accept l5@gmail.com=refuse:login-limit l6@gmail.com=refuse:login-limit
relay_case "alice over her limit still mails the local domains" 127.0.0.2 submission alice \
    alice@example.com u2@example.com=accept
relay_case "alice from an allow-net client relays, and is not counted" 127.0.0.3 submission alice \
    alice@example.com l7@gmail.com=accept
relay_case "bob is not held to alice's use" 127.0.0.2 submission bob bob@example.com b1@gmail.com=accept
reload_conf "${limits[@]}" "# the same limits again"
relay_case "after a reload alice is still over her limit" 127.0.0.2 submission alice \
    alice@example.com l8@gmail.com=refuse:login-limit

relay_case "bob from a 2nd client address" 127.0.0.4 submission bob bob@example.com b2@gmail.com=accept
relay_case "bob from a 3rd client address" 127.0.0.7 submission bob bob@example.com b3@gmail.com=accept
relay_case "bob from a 4th client address: the login is locked" 127.0.0.8 submission bob \
    bob@example.com b4@gmail.com=refuse:login-locked
wait_log "cat $mlog" "lock: login=$(mta_login bob) clients=4/3 in 1d until="
relay_case "bob's next relay, from his first address, gets lock-reply" 127.0.0.2 submission bob \
    bob@example.com b5@gmail.com=refuse:login-locked
relay_case "bob's local mail still passes while he is locked" 127.0.0.2 submission bob bob@example.com u3@example.com=accept
[ "$(grep -c "lock: login=$(mta_login bob) " "$mlog")" = 1 ] && ok "the lock was logged once" ||
    bad "the lock was logged $(grep -c "lock: login=$(mta_login bob) " "$mlog") times, want once"

reload_conf "${limits[@]}" "mode = dry-run"
relay_case "dry-run: alice over her limit relays" 127.0.0.2 submission alice alice@example.com l9@gmail.com=accept
wait_log "cat $mlog" "would-reject: client=$(mta_client_name 127.0.0.2)[127.0.0.2] listener=127.0.0.1 auth=$(mta_login alice) from=<alice@example.com> to=<l9@gmail.com> rule=login-limit limit=recipients:4/1h"
reload_conf
