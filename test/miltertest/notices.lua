-- notices.lua: success and delay notice requests over the milter protocol. For a client that may
-- not relay and a sender outside the local domains, relaymilter asks the MTA at end of message to
-- delete the recipient and add it again (with NOTIFY=FAILURE), when the MTA is Postfix; Sendmail
-- keeps a re-added recipient's request, so there the recipient is tempfailed. Allowed clients,
-- local senders and requests without SUCCESS or DELAY are left alone. Also the address literals
-- that must never be local.
local t = dofile(DIR .. "/lib.lua")

local postfix = { "v", "Postfix 3.7.11" }
local sendmail = { "v", "8.17.1.9", "{daemon_name}", "MTA" }

-- It asks for the actions it needs to drop a request.
do
  local conn = t.connect()
  for _, action in ipairs({ "SMFIF_DELRCPT", "SMFIF_ADDRCPT_PAR" }) do
    if not mt.test_action(conn, _G[action]) then error("did not ask for " .. action) end
  end
  mt.disconnect(conn)
end

-- Postfix, outside client, foreign sender: deleted and added again at end of message.
for _, notify in ipairs({ "NOTIFY=SUCCESS", "NOTIFY=DELAY", "NOTIFY=SUCCESS,FAILURE" }) do
  local conn = t.session("mx.outside.test", "203.0.113.9", postfix)
  t.mail(conn, "<victim@foreign.example>", nil, "RET=FULL")
  t.rcpt(conn, "<user@example.com>", "continue", notify)
  t.rcpt(conn, "<other@example.com>", "continue")
  if mt.eom(conn) ~= nil then error(notify .. ": eom failed") end
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error(notify .. ": EOM not answered with continue") end
  if not mt.eom_check(conn, MT_RCPTDELETE, "<user@example.com>") then error(notify .. ": recipient not deleted") end
  -- miltertest records no SMFIR_ADDRCPT_PAR for eom_check: run.sh counts those packets instead.
  if mt.eom_check(conn, MT_RCPTDELETE, "<other@example.com>") then error(notify .. ": a recipient without a request was changed") end
  mt.disconnect(conn)
end
t.expect_log("notice-suppressed: client=mx.outside.test[203.0.113.9] listener=- auth=- from=<victim@foreign.example> to=<user@example.com> notify=SUCCESS rule=default")
t.expect_log("to=<user@example.com> notify=DELAY rule=default")

-- Left alone: an allowed client, a local sender, FAILURE or NEVER only.
for _, case in ipairs({ { "192.168.1.7", "<victim@foreign.example>", "NOTIFY=SUCCESS" },
                        { "203.0.113.9", "<boss@example.com>", "NOTIFY=SUCCESS" },
                        { "203.0.113.9", "<victim@foreign.example>", "NOTIFY=FAILURE" },
                        { "203.0.113.9", "<victim@foreign.example>", "NOTIFY=NEVER" } }) do
  local conn = t.session("left-alone.test", case[1], postfix)
  t.mail(conn, case[2])
  t.rcpt(conn, "<alone@example.com>", "continue", case[3])
  if mt.eom(conn) ~= nil then error("eom failed") end
  if mt.eom_check(conn, MT_RCPTDELETE, "<alone@example.com>") then error(case[1] .. " " .. case[2] .. " " .. case[3] .. ": changed") end
  mt.disconnect(conn)
end
t.expect_log("to=<alone@example.com>", 0)

-- Sendmail keeps the request of a re-added recipient: that recipient gets tempfail, once logged.
do
  local conn = t.session("mx.outside.test", "203.0.113.10", sendmail)
  t.mail(conn, "<victim@foreign.example>")
  t.rcpt(conn, "<kept@example.com>", "tempfail", "NOTIFY=SUCCESS")
  t.rcpt(conn, "<plain@example.com>", "continue")
  t.finish(conn)
  t.expect_log("must not be sent, but this MTA keeps a recipient's notice request when a milter re-adds it (Sendmail does")
end

-- Literals the MTAs disagree on are never local: refused from outside, in every spelling.
do
  local conn = t.session("literal.test", "203.0.113.11", postfix)
  t.mail(conn, "<a@b.test>")
  t.rcpt(conn, "<u@[192.0.2.25]>", "continue")
  for _, rcpt in ipairs({ "<u@[IPv6:::ffff:192.0.2.25]>", "<u@[IPv6:::FFFF:C000:219]>", "<u@[IPV6:0:0:0:0:0:ffff:192.0.2.25]>",
                          "<u@[::ffff:192.0.2.25]>" }) do
    t.rcpt(conn, rcpt, "reject")
  end
  t.finish(conn)
end

mt.echo("notices: all cases passed")
