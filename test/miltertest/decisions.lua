-- decisions.lua: every decision rule through the real daemon over the milter protocol, with
-- IPv4, IPv6 and IPv4-mapped clients, Postfix's and Sendmail's macro spellings, logins with and
-- without realm, mixed recipients in one message, a null sender, and the log line per refusal.
local t = dofile(DIR .. "/lib.lua")

-- What we negotiate: no HELO/headers/body/unknown callbacks, no replies to connect and MAIL.
-- DATA is kept and answered (skipping it stalls Postfix on TCP sockets, see callbacks.cpp).
do
  local conn = t.connect()
  for _, option in ipairs({ "SMFIP_NOHELO", "SMFIP_NOHDRS", "SMFIP_NOEOH", "SMFIP_NOBODY",
                            "SMFIP_NOUNKNOWN", "SMFIP_NR_CONN", "SMFIP_NR_MAIL" }) do
    if not mt.test_option(conn, _G[option]) then error("did not negotiate " .. option) end
  end
  for _, option in ipairs({ "SMFIP_NOCONNECT", "SMFIP_NOMAIL", "SMFIP_NORCPT", "SMFIP_NODATA", "SMFIP_NR_DATA" }) do
    if mt.test_option(conn, _G[option]) then error("negotiated away " .. option .. ", which the policy needs") end
  end
  if not mt.test_action(conn, SMFIF_SETSYMLIST) then error("did not ask to choose its macros (SMFIF_SETSYMLIST)") end
  mt.disconnect(conn)
end

-- An outside IPv4 client, no listener known: local recipients pass, relay attempts are refused,
-- each recipient on its own, in one message.
do
  local conn = t.session("mx.outside.test", "203.0.113.9")
  t.mail(conn, "<a@b.test>")
  t.rcpt(conn, "<postmaster@example.com>", "continue")
  t.rcpt(conn, "<user@example.net>", "reject")
  t.rcpt(conn, "<user@EXAMPLE.COM.>", "continue")
  t.rcpt(conn, "<user%gmail.com@example.com>", "reject")
  t.rcpt(conn, "<postmaster>", "continue")
  t.finish(conn)
  t.expect_log("reject: client=mx.outside.test[203.0.113.9] listener=- auth=- from=<a@b.test> to=<user@example.net> rule=default")
  t.expect_log("to=<user%gmail.com@example.com> rule=default")
  t.expect_log("to=<postmaster@example.com>", 0)
end

-- A null sender (a bounce) gets no exemption.
do
  local conn = t.session("bounce.outside.test", "203.0.113.10")
  t.mail(conn, "<>")
  t.rcpt(conn, "<user@example.net>", "reject")
  t.rcpt(conn, "<postmaster@example.com>", "continue")
  t.finish(conn)
  t.expect_log("reject: client=bounce.outside.test[203.0.113.10] listener=- auth=- from=<> to=<user@example.net> rule=default")
end

-- The classic open-relay forms (S = example.com, I = [192.0.2.25]): refused from outside,
-- accepted from an allow-net client.
local forms = {
  "<relaytest@nmap.scanme.org>", "<relaytest%nmap.scanme.org@[192.0.2.25]>",
  "<relaytest%nmap.scanme.org@example.com>", "<\"relaytest@nmap.scanme.org\">",
  "<\"relaytest%nmap.scanme.org\">", "<relaytest@nmap.scanme.org@[192.0.2.25]>",
  "<\"relaytest@nmap.scanme.org\"@[192.0.2.25]>", "<relaytest@nmap.scanme.org@example.com>",
  "<@[192.0.2.25]:relaytest@nmap.scanme.org>", "<@example.com:relaytest@nmap.scanme.org>",
  "<nmap.scanme.org!relaytest>", "<nmap.scanme.org!relaytest@[192.0.2.25]>",
  "<nmap.scanme.org!relaytest@example.com>",
}
for _, client in ipairs({ { "203.0.113.11", "reject" }, { "192.168.1.7", "continue" } }) do
  local conn = t.session("relay-test.test", client[1])
  t.mail(conn, "<antispam@[192.0.2.25]>")
  for _, rcpt in ipairs(forms) do t.rcpt(conn, rcpt, client[2]) end
  t.finish(conn)
end
t.expect_log("client=relay-test.test[203.0.113.11]", #forms)
t.expect_log("client=relay-test.test[192.168.1.7]", 0)

-- IPv6 clients: outside refused, allow-net accepted; an IPv4-mapped client matches IPv4 rules.
do
  local cases = {
    { "2001:db8:9::9", "reject" },
    { "2001:db8:1::7", "continue" },
    { "::ffff:192.168.1.7", "continue" },
    { "::ffff:192.168.1.66", "reject" },  -- deny-net, through the mapping
    { "2001:db8:1:66::1", "reject" },     -- IPv6 deny-net beats IPv6 allow-net
  }
  for _, case in ipairs(cases) do
    local conn = t.session("v6.test", case[1])
    t.mail(conn, "<a@b.test>")
    t.rcpt(conn, "<user@example.net>", case[2])
    t.finish(conn)
  end
  t.expect_log("reject: client=v6.test[2001:db8:9::9] listener=- auth=- from=<a@b.test> to=<user@example.net> rule=default")
  t.expect_log("reject: client=v6.test[192.168.1.66] listener=- auth=- from=<a@b.test> to=<user@example.net> rule=deny-net")
  t.expect_log("reject: client=v6.test[2001:db8:1:66::1] listener=- auth=- from=<a@b.test> to=<user@example.net> rule=deny-net")
end

-- Listener macros as each MTA spells them.
do
  local cases = {
    -- Postfix: {daemon_addr} is the address the client connected to
    { "postfix-internal", { "{daemon_addr}", "192.0.2.26" }, "continue" },
    { "postfix-other", { "{daemon_addr}", "192.0.2.25" }, "reject", "listener=192.0.2.25" },
    -- Sendmail: {if_addr}, with an IPv6: tag, wins over a wildcard {daemon_addr}
    { "sendmail-if6", { "{if_addr}", "IPv6:2001:db8:ffff::26", "{daemon_addr}", "::" }, "continue" },
    { "sendmail-if4", { "{if_addr}", "192.0.2.26", "{daemon_addr}", "0.0.0.0" }, "continue" },
    -- Sendmail on loopback: no {if_addr}; a wildcard {daemon_addr} says nothing
    { "sendmail-wild", { "{daemon_addr}", "0.0.0.0" }, "reject", "listener=0.0.0.0" },
    -- Sendmail daemon bound to one address: {daemon_addr} names it
    { "sendmail-bound", { "{daemon_addr}", "192.0.2.26", "{daemon_name}", "MTA" }, "continue" },
    -- garbage in a macro is no listener at all
    { "garbage", { "{daemon_addr}", "not-an-address" }, "reject", "listener=-" },
  }
  for _, case in ipairs(cases) do
    local conn = t.session(case[1] .. ".test", "203.0.113.20", case[2])
    t.mail(conn, "<a@b.test>")
    t.rcpt(conn, "<user@example.net>", case[3])
    t.finish(conn)
    if case[4] then t.expect_log("client=" .. case[1] .. ".test[203.0.113.20] " .. case[4] .. " auth=-") end
  end
end

-- SMTP AUTH: Postfix sends the login with its realm, Sendmail the bare login. Deny beats it.
do
  local cases = {
    { "203.0.113.30", "alice@mx.example.test", "continue" },
    { "203.0.113.31", "alice", "continue" },
    { "203.0.113.32", nil, "reject" },
    { "192.168.1.66", "alice", "reject" },
  }
  for _, case in ipairs(cases) do
    local conn = t.session("auth.test", case[1])
    t.mail(conn, "<alice@example.com>", case[2] and { "{auth_authen}", case[2], "{auth_type}", "PLAIN" } or nil)
    t.rcpt(conn, "<user@example.net>", case[3])
    t.rcpt(conn, "<user@example.com>", "continue")  -- deny-net still mails local domains
    t.finish(conn)
  end
  t.expect_log("reject: client=auth.test[192.168.1.66] listener=- auth=alice from=<alice@example.com> to=<user@example.net> rule=deny-net")
  t.expect_log("client=auth.test[203.0.113.32] listener=- auth=- from=<alice@example.com> to=<user@example.net> rule=default")
end

-- A client of unknown address family cannot be shown to be outside the deny-nets.
do
  local conn = t.session("local.test", "unspec")
  t.mail(conn, "<a@b.test>", { "{auth_authen}", "alice" })
  t.rcpt(conn, "<user@example.net>", "reject")
  t.rcpt(conn, "<user@example.com>", "continue")
  t.finish(conn)
  t.expect_log("reject: client=local.test[unknown] listener=- auth=alice from=<a@b.test> to=<user@example.net> rule=deny-net")
end

mt.echo("decisions: all cases passed")
