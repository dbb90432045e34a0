# relay_cases.sh: the relay decisions end to end, one line per case, run through every MTA by
# mta_e2e.sh (sourced there; the MTA's adapter turns each into its replies and log lines).
# The conf: local-domain example.com and [127.0.0.1], allow-net 127.0.0.3, internal-address the
# MTA's second listener, deny-net 127.0.0.66. Clients: 127.0.0.2 outside, 127.0.0.3 allowed,
# 127.0.0.66 denied.
#   relay_case   LABEL CLIENT VIA AUTH SENDER RCPT=WANT...   (the session ends after RCPT)
#   message_case LABEL CLIENT VIA AUTH SENDER RCPT=WANT... [notice=none|notice=KIND:WHERE]
# VIA: main, internal (the listener in internal-address) or v6. AUTH: -, alice, or alice:PASSWORD.
# WANT: accept; refuse (a 5xx from relaymilter or the MTA); refuse:RULE (relaymilter's reply, its
# log line with RULE and the MTA's log line); delivered:LOCAL or delivered:RELAYED (accepted, and
# where the MTA sent it); notice-dropped:WHERE (delivered, its notice request dropped).

relay_case "outside client, foreign recipient: refused" 127.0.0.2 main - a@b.test "$refused"
relay_case "outside client, local recipient: accepted" 127.0.0.2 main - a@b.test user@example.com=accept
relay_case "allow-net client relays" 127.0.0.3 main - a@b.test user@gmail.com=accept
relay_case "outside client on the internal listener relays (internal-address)" 127.0.0.2 internal - a@b.test user@gmail.com=accept
relay_case "authenticated client relays" 127.0.0.2 main alice alice@example.com user@gmail.com=accept
relay_case "wrong password: not authenticated, refused" 127.0.0.2 main alice:wrong alice@example.com "$refused"
relay_case "deny-net client, even authenticated: refused" 127.0.0.66 main alice alice@example.com user@gmail.com=refuse:deny-net
relay_case "deny-net client still mails local domains" 127.0.0.66 main - a@b.test user@example.com=accept
relay_case "null sender gets no exemption" 127.0.0.2 main - '<>' "$refused"
message_case "local and foreign recipient in one transaction: the local one is delivered" 127.0.0.2 main - a@b.test \
    user@example.com=delivered:LOCAL "$refused" notice=none
message_case "allow-net client's relay is delivered to the foreign domain" 127.0.0.3 main - a@b.test \
    user@gmail.com=delivered:RELAYED notice=none

# Address literals: [127.0.0.1] is local, but an IPv6 spelling of it is not (Sendmail relays it).
relay_case "IPv4 literal of this host: local" 127.0.0.2 main - a@b.test 'user@[127.0.0.1]=accept'
for literal in '[IPv6:::ffff:127.0.0.1]' '[IPv6:::FFFF:7F00:1]' '[IPv6:0:0:0:0:0:ffff:127.0.0.1]' \
    '[IPV6:::FFFF:127.0.0.1]' '[::ffff:127.0.0.1]'; do
    relay_case "literal $literal from outside: a relay attempt, refused" 127.0.0.2 main - a@b.test "user@$literal=refuse"
done
