-- reply.lua: exactly one refusal, so run.sh can read the reply packet relaymilter sent
-- (miltertest -vv prints "cmd y, len N") and check its length: reject-reply with the '%'
-- doubled for libmilter, plus the NUL.
local t = dofile(DIR .. "/lib.lua")
local conn = t.session("reply.test", "203.0.113.50")
t.mail(conn, "<a@b.test>")
t.rcpt(conn, "<user@example.net>", "reject")
t.finish(conn)
