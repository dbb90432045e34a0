# notice_cases.sh: delivery status notices (DSN) end to end, one line per case (see relay_cases.sh
# for the form; mta_e2e.sh sources it). A success or delay notice goes to the envelope sender, so
# from a client that may not relay, with a sender outside the local domains, the request is
# dropped: the message is delivered and no notice goes anywhere. Local senders and clients that
# may relay keep their notices. Every recipient has its own address, so each log line is its own;
# victim@foreign.example is the sender of every case whose notice must not go out.

message_case "outside client, foreign sender, NOTIFY=SUCCESS RET=FULL" 127.0.0.2 main - \
    "victim@foreign.example RET=FULL ENVID=n1" "n1@example.com NOTIFY=SUCCESS ORCPT=rfc822;n1@example.com=notice-dropped:LOCAL" notice=none
message_case "outside client, NOTIFY=DELAY (delivered at once)" 127.0.0.2 main - \
    "victim@foreign.example RET=HDRS" "n2@example.com NOTIFY=DELAY=notice-dropped:LOCAL" notice=none
message_case "outside client, NOTIFY=SUCCESS,FAILURE" 127.0.0.2 main - \
    victim@foreign.example "n3@example.com NOTIFY=SUCCESS,FAILURE=notice-dropped:LOCAL" notice=none
message_case "outside client, NOTIFY=NEVER: left alone" 127.0.0.2 main - \
    victim@foreign.example "n4@example.com NOTIFY=NEVER=delivered:LOCAL" notice=none
message_case "deny-net client, authenticated, NOTIFY=SUCCESS" 127.0.0.66 main alice \
    victim@foreign.example "n5@example.com NOTIFY=SUCCESS=notice-dropped:LOCAL" notice=none
message_case "outside client, several recipients, some asking" 127.0.0.2 main - "victim@foreign.example RET=FULL" \
    "n6@example.com NOTIFY=SUCCESS=notice-dropped:LOCAL" n7@example.com=delivered:LOCAL \
    "n8@example.com NOTIFY=FAILURE,DELAY=notice-dropped:LOCAL" "$refused" notice=none
message_case "outside client, local sender: the receipt is delivered here" 127.0.0.2 main - \
    "boss@example.com RET=HDRS" "n9@example.com NOTIFY=SUCCESS=delivered:LOCAL" notice=success:LOCAL
message_case "allow-net client keeps its receipt to a foreign sender" 127.0.0.3 main - \
    "partner@foreign.example RET=FULL" "n10@example.com NOTIFY=SUCCESS=delivered:LOCAL" notice=success:RELAYED
message_case "authenticated client keeps its receipt to a foreign sender" 127.0.0.2 main alice \
    "alice@foreign.example RET=HDRS" "n11@example.com NOTIFY=SUCCESS,FAILURE=delivered:LOCAL" notice=success:RELAYED

got=$(mta_mail_to victim@foreign.example)
[ -z "$got" ] && ok "no mail at all went to victim@foreign.example, the sender of every unprivileged request" ||
    { bad "mail went to victim@foreign.example:"; sed 's/^/    /' <<<"$got"; }
