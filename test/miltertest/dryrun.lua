-- dryrun.lua: in dry-run mode a relay attempt is logged as would-reject and accepted.
local t = dofile(DIR .. "/lib.lua")
local conn = t.session("mx.outside.test", "203.0.113.9")
t.mail(conn, "<a@b.test>")
t.rcpt(conn, "<user@example.net>", "continue")
t.rcpt(conn, "<user@example.com>", "continue")
t.finish(conn)
t.expect_log("would-reject: client=mx.outside.test[203.0.113.9] listener=- auth=- from=<a@b.test> to=<user@example.net> rule=default")
t.expect_log("reject: client=", 1)  -- only the would-reject line
t.expect_log("to=<user@example.com>", 0)
mt.echo("dryrun: passed")
