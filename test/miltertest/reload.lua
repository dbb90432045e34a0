-- reload.lua: SIGHUP while a session is open. A good conf takes effect from the next recipient
-- decision without dropping the session; a bad one is refused with FILE:LINE and changes nothing.
local t = dofile(DIR .. "/lib.lua")
local conn = t.session("mx.outside.test", "203.0.113.9")
t.mail(conn, "<a@b.test>")
t.rcpt(conn, "<user@example.net>", "reject")

-- A good conf that lets this client relay.
t.write_file(CONF, "local-domain = example.com\nallow-net = 203.0.113.0/24\nlog = stderr\n")
t.run("kill -HUP " .. PID)
t.wait_log("reload: " .. CONF .. ": 1 local-domain, 1 allow-net", 1, 10)
t.rcpt(conn, "<user@example.net>", "continue")

-- A bad conf: refused, logged with FILE:LINE, the good policy stays.
t.write_file(CONF, "local-domain = example.com\nallow-net = 203.0.113.9/24\nlog = stderr\n")
t.run("kill -HUP " .. PID)
t.wait_log("reload refused: " .. CONF .. ":2: allow-net: 203.0.113.9/24: host bits set; did you mean 203.0.113.0/24?", 1, 10)
t.rcpt(conn, "<user@example.net>", "continue")
t.finish(conn)

-- A new session still gets the good policy.
conn = t.session("mx.outside.test", "203.0.113.9")
t.mail(conn, "<a@b.test>")
t.rcpt(conn, "<user@example.net>", "continue")
t.finish(conn)
t.expect_log("reject: client=", 1)

-- A good conf that also names another socket: the policy is taken, the socket stays until restart.
t.write_file(CONF, "local-domain = example.com\nsocket = unix:/nonexistent/other.sock\nlog = stderr\n")
t.run("kill -HUP " .. PID)
t.wait_log("reload: socket, user, pidfile, log, listen-backlog, metrics and limits-store changes take effect at restart", 1, 10)
conn = t.session("mx.outside.test", "203.0.113.9")
t.mail(conn, "<a@b.test>")
t.rcpt(conn, "<user@example.net>", "reject")  -- the new policy (no allow-net), on the old socket
t.finish(conn)
t.expect_log("take effect at restart", 1)
mt.echo("reload: passed")
