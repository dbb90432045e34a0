-- many.lua: hundreds of recipients in one message, from an outside client: each decided on its
-- own (local ones pass, relay attempts and routing tricks are refused), one log line per refusal.
local t = dofile(DIR .. "/lib.lua")
local conn = t.session("many.outside.test", "203.0.113.60")
t.mail(conn, "<a@b.test>")
local kinds = {
  { "<local%d@example.com>", "continue" },
  { "<foreign%d@gmail.com>", "reject" },
  { "<x%d%%gmail.com@example.com>", "reject" },
  { "<\"q%d@gmail.com\"@example.com>", "reject" },
  { "<local%d@[192.0.2.25]>", "continue" },
}
local refused = 0
for i = 1, 500 do
  local kind = kinds[(i - 1) % #kinds + 1]
  t.rcpt(conn, string.format(kind[1], i), kind[2])
  if kind[2] == "reject" then refused = refused + 1 end
end
t.finish(conn)
t.expect_log("client=many.outside.test[203.0.113.60]", refused)
mt.echo("many: 500 recipients in one message, " .. refused .. " refused")
