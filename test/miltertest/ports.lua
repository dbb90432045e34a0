-- ports.lua: authenticated-port against what MTAs really send in {daemon_port}: Postfix's and
-- Sendmail's "{daemon_port}", a bare "daemon_port" (an MTA naming the macro without braces:
-- libmilter matches long names only as sent; Postfix and Sendmail send the braces), values that are no port,
-- and no port at all. Without a port it fails closed (authentication allows no relay) and logs
-- that once per session, however many recipients. Local mail passes whatever the port.
local t = dofile(DIR .. "/lib.lua")

local login = { "{auth_authen}", "alice@example.com", "{auth_type}", "PLAIN" }
local unknown = "authenticated-port is set but the MTA did not say the listener's port"

-- session(connect_macros, want for a relay recipient): one authenticated message, a relay
-- recipient, a local one, and a second relay recipient.
local function session(label, connect_macros, want)
  local conn = t.session("client.test", "203.0.113.20", connect_macros)
  t.mail(conn, "<alice@example.com>", login)
  t.rcpt(conn, "<friend@example.net>", want)
  t.rcpt(conn, "<postmaster@example.com>", "continue")
  t.rcpt(conn, "<other@example.org>", want)
  t.finish(conn)
  mt.echo("ok   " .. label)
end

-- The listener's port as Postfix and Sendmail name it: 587 and 465 relay, 25 does not.
session("{daemon_port}=587 relays", { "{daemon_port}", "587" }, "continue")
session("{daemon_port}=465 relays", { "{daemon_port}", "465" }, "continue")
session("{daemon_port}=25 is judged as if unauthenticated", { "{daemon_port}", "25" }, "reject")
t.expect_log("auth=alice@example.com from=<alice@example.com> to=<friend@example.net> rule=default", 1)
-- The bare spelling: no MTA run here sends it, but one naming the macro so must not lose the port.
session("daemon_port=587 (no braces) relays", { "daemon_port", "587" }, "continue")
session("daemon_port=25 (no braces) does not", { "daemon_port", "25" }, "reject")
t.expect_log(unknown, 0)

-- Values that are no port: judged as if the MTA gave none, each session logged once.
local before = t.log_count(unknown)
for _, value in ipairs({ "", "587x", " 587", "0", "65536", "-587", "submission" }) do
  session(string.format("{daemon_port}=%q fails closed", value), { "{daemon_port}", value }, "reject")
end
-- No port at all (the MTA was not asked for it, or does not know it).
session("no {daemon_port} fails closed", nil, "reject")
session("only {daemon_addr}, no port, fails closed", { "{daemon_addr}", "192.0.2.25" }, "reject")
local logged = t.log_count(unknown) - before
if logged ~= 9 then error(string.format("%d '%s' lines for 9 sessions, want one each", logged, unknown)) end

-- A client that did not authenticate gets no such line: the port plays no part for it.
do
  before = t.log_count(unknown)
  local conn = t.session("client.test", "203.0.113.21")
  t.mail(conn, "<a@b.test>")
  t.rcpt(conn, "<friend@example.net>", "reject")
  t.finish(conn)
  t.expect_log(unknown, before)
end

mt.echo("ports: passed")
