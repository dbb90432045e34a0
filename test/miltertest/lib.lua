-- lib.lua: helpers for the relaymilter miltertest scripts, loaded with dofile(DIR .. "/lib.lua").
-- The driver (run.sh) defines SOCKET, LOG (relaymilter's log file), CONF, PID and DIR with -D.
local M = {}

local unpack = table.unpack or unpack

local function ok(err, what)
  if err ~= nil then error(what .. ": " .. tostring(err), 3) end
end

local names = { [SMFIR_CONTINUE] = "continue", [SMFIR_REPLYCODE] = "reject (with reply)",
                [SMFIR_REJECT] = "reject (bare)", [SMFIR_TEMPFAIL] = "tempfail",
                [SMFIR_ACCEPT] = "accept" }
local function name(code) return names[code] or ("reply " .. tostring(code)) end

-- A new milter connection, negotiated with miltertest's defaults (everything offered).
function M.connect()
  local conn = mt.connect(SOCKET, 50, 0.1)
  if conn == nil then error("cannot connect to " .. SOCKET, 2) end
  ok(mt.negotiate(conn, nil, nil, nil), "negotiate")
  return conn
end

-- Sends the macros of one stage in one packet (a second packet for a stage replaces the first).
local function macros(conn, stage, list)
  if list == nil or #list == 0 then return end
  ok(mt.macro(conn, stage, unpack(list)), "macro")
end

-- A session from `host` at `ip` (a string, or "unspec"), with connect-stage macros given as a
-- flat list { "{daemon_addr}", "192.0.2.25", ... }.
function M.session(host, ip, connect_macros)
  local conn = M.connect()
  macros(conn, SMFIC_CONNECT, connect_macros)
  ok(mt.conninfo(conn, host, ip), "conninfo")
  return conn
end

-- MAIL FROM with optional MAIL-stage macros ({auth_authen}, ...) and ESMTP arguments.
function M.mail(conn, from, mail_macros, ...)
  macros(conn, SMFIC_MAIL, mail_macros)
  ok(mt.mailfrom(conn, from, ...), "mailfrom")
end

-- RCPT TO (with optional ESMTP arguments) and the answer wanted: "continue", "reject" (a 5xx with
-- our reply) or "tempfail".
function M.rcpt(conn, rcpt, want, ...)
  ok(mt.rcptto(conn, rcpt, ...), "rcptto " .. rcpt)
  local got = mt.getreply(conn)
  local wanted = ({ continue = SMFIR_CONTINUE, reject = SMFIR_REPLYCODE, tempfail = SMFIR_TEMPFAIL })[want]
  if got ~= wanted then
    error(string.format("RCPT %s: got %s, want %s", rcpt, name(got), want), 2)
  end
end

-- Ends the message (everything before EOM that was negotiated away is skipped) and the session.
function M.finish(conn)
  ok(mt.eom(conn), "eom")
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error("EOM: got " .. name(mt.getreply(conn)), 2) end
  mt.disconnect(conn)
end

local function read_log()
  local f = io.open(LOG, "r")
  if f == nil then return "" end
  local text = f:read("a")
  f:close()
  return text
end

-- How many log lines contain `text` (plain, not a pattern).
function M.log_count(text)
  local n = 0
  for line in read_log():gmatch("[^\n]+") do
    if line:find(text, 1, true) then n = n + 1 end
  end
  return n
end

-- Fails unless exactly `times` (default 1) log lines contain `text`.
function M.expect_log(text, times)
  times = times or 1
  local n = M.log_count(text)
  if n ~= times then
    error(string.format("log: %d line(s) contain %q, want %d\n--- log ---\n%s", n, text, times, read_log()), 2)
  end
end

-- Waits up to `seconds` for a log line containing `text` to appear `times` times.
function M.wait_log(text, times, seconds)
  for _ = 1, seconds * 10 do
    if M.log_count(text) >= times then return end
    mt.sleep(0.1)
  end
  error(string.format("log: no %q after %d s\n--- log ---\n%s", text, seconds, read_log()), 2)
end

function M.write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- Runs a command and fails if it fails (used to signal the daemon by its PID).
function M.run(command)
  local success = os.execute(command)
  if not success then error("command failed: " .. command, 2) end
end

return M
