// redis_scripts: the Lua that runs inside Redis for the Redis store: the memory store's rules
// (policy/limit_store.cpp) written again next to the data, in integer millionths, by Redis's
// clock. Only the text; milter/redis_store loads and calls it. Keys per login (one hash tag):
//   KEYS[1] relaymilter:{HASH}:login    hash: r rt (recipients level, updated), m mt (messages),
//                                       until (lock end), login; TTL: until the buckets are empty
//                                       and the lock is over
//   KEYS[2] relaymilter:{HASH}:clients  sorted set: client -> last seen; TTL: the client period
// Times are microseconds since the epoch: below 2^53, so exact in Lua's doubles; every product
// that could leave that range is split first (see drained).
#pragma once

namespace relaymilter::redis_scripts {

// The clock and the bucket arithmetic shared by the scripts. `now` comes from TIME, or from
// ARGV[clock] when a test passes its own (attempt_clock).
inline constexpr const char* kCommon = R"lua(
local ONE = 1000000
local function clock(arg)
  if arg and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- floor(a / b) for integers 0 <= a < 2^53, b > 0, exactly
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
-- The level at now of a bucket drained at count per period seconds since updated: the memory
-- store's floor((now - updated) * count / period) as q * count + floor(rest * count / period).
local function drained(now, level, updated, count, period)
  level = tonumber(level) or 0
  updated = tonumber(updated) or 0
  if level <= 0 then return 0 end
  if now <= updated then return level end
  local dt = now - updated
  local q = idiv(dt, period)
  if q * count >= level then return 0 end
  local drain = q * count + idiv((dt - q * period) * count, period)
  if drain >= level then return 0 end
  return level - drain
end
)lua";

// relay: KEYS login, clients; ARGV recipients count, period, messages count, period, clients
// count, period (0 0: no such limit), client ('' unknown), new message (1/0), lock seconds,
// login, now ('' : Redis's TIME). Returns {outcome, clients, locked_until}: outcome 0 allowed,
// 1 recipient limit, 2 message limit, 3 locked, 4 locked now.
inline constexpr const char* kRelay = R"lua(
local now = clock(ARGV[11])
local rcount, rperiod = tonumber(ARGV[1]), tonumber(ARGV[2])
local mcount, mperiod = tonumber(ARGV[3]), tonumber(ARGV[4])
local ccount, cperiod = tonumber(ARGV[5]), tonumber(ARGV[6])
local client, new_message, lock_us, login = ARGV[7], ARGV[8] == '1', tonumber(ARGV[9]) * ONE, ARGV[10]
local h = redis.call('HMGET', KEYS[1], 'r', 'rt', 'm', 'mt', 'until')
local locked_until = tonumber(h[5]) or 0
if locked_until > now then return {3, 0, locked_until} end

if ccount > 0 and client ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - cperiod * ONE)
  if redis.call('ZSCORE', KEYS[2], client) or redis.call('ZCARD', KEYS[2]) < ccount then
    redis.call('ZADD', KEYS[2], now, client)
    redis.call('PEXPIRE', KEYS[2], cperiod * 1000)
  else
    local seen = redis.call('ZCARD', KEYS[2])
    locked_until = now + lock_us
    redis.call('HSET', KEYS[1], 'until', locked_until, 'login', login)
    local ttl = math.ceil(lock_us / 1000) + 1
    if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
    return {4, seen + 1, locked_until}
  end
end

local r, m = 0, 0
if rcount > 0 then r = drained(now, h[1], h[2], rcount, rperiod) end
if mcount > 0 then m = drained(now, h[3], h[4], mcount, mperiod) end
if rcount > 0 and r + ONE > rcount * ONE then return {1, 0, 0} end
if new_message and mcount > 0 and m + ONE > mcount * ONE then return {2, 0, 0} end

-- Counted. The hash lives until its buckets are empty again (the memory store's idle_at).
local idle = 0
local fields = {}
if rcount > 0 then
  r = r + ONE
  fields[#fields + 1] = 'r'; fields[#fields + 1] = r; fields[#fields + 1] = 'rt'; fields[#fields + 1] = now
  idle = math.max(idle, math.floor(r * rperiod / rcount) + 1)
end
if mcount > 0 then
  if new_message then
    m = m + ONE
    fields[#fields + 1] = 'm'; fields[#fields + 1] = m; fields[#fields + 1] = 'mt'; fields[#fields + 1] = now
  end
  if m > 0 then idle = math.max(idle, math.floor(m * mperiod / mcount) + 1) end
end
if #fields > 0 then redis.call('HSET', KEYS[1], 'login', login, unpack(fields)) end
if idle > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(idle / 1000) + 1)
elseif h[1] or h[3] or h[5] then
  redis.call('DEL', KEYS[1])
end
return {0, 0, 0}
)lua";

// use: KEYS login, clients; ARGV recipients count, period, messages count, period, clients
// period, now. Returns {recipients level, messages level, clients in the period, locked_until}.
inline constexpr const char* kUse = R"lua(
local now = clock(ARGV[6])
local rcount, rperiod = tonumber(ARGV[1]), tonumber(ARGV[2])
local mcount, mperiod = tonumber(ARGV[3]), tonumber(ARGV[4])
local cperiod = tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'r', 'rt', 'm', 'mt', 'until')
local r, m, c = 0, 0, 0
if rcount > 0 then r = drained(now, h[1], h[2], rcount, rperiod) end
if mcount > 0 then m = drained(now, h[3], h[4], mcount, mperiod) end
if cperiod > 0 then
  c = redis.call('ZCOUNT', KEYS[2], now - cperiod * ONE + 1, '+inf')
else
  c = redis.call('ZCARD', KEYS[2])
end
local locked_until = tonumber(h[5]) or 0
if locked_until <= now then locked_until = 0 end
return {r, m, c, locked_until}
)lua";

// unlock: KEYS login, clients. Lifts the lock and forgets the client addresses, so that the next
// attempt does not lock the login again at once. Returns 1 when a lock was in force.
inline constexpr const char* kUnlock = R"lua(
local now = clock(nil)
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
redis.call('HDEL', KEYS[1], 'until')
redis.call('DEL', KEYS[2])
if locked_until > now then return 1 end
return 0
)lua";

}  // namespace relaymilter::redis_scripts
