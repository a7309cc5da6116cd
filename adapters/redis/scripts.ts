/**
 * The Lua scripts the broker and the registry run: each does in one step what must not be
 * interleaved with another client's commands, and takes the time from Redis (TIME), so the
 * clocks of the instances never have to agree.
 */
import { Script } from "./connection.ts";

/**
 * Publish: XADD the event with the id of the entry before it (`p`, how subscribers notice a
 * gap), trim to about `maxEvents` (MAXLEN ~, whole nodes at a time: cheap), drop entries older
 * than `maxAgeMs` (MINID ~) and let an idle topic's stream expire with its last entry.
 * KEYS: stream. ARGV: data, maxEvents, maxAgeMs. Returns the new id.
 */
export const PUBLISH: Script = new Script(`
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local previous = '0-0'
if last[1] then previous = last[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[1], 'p', previous)
local age = tonumber(ARGV[3])
if age > 0 then
  local now = redis.call('TIME')
  local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - age
  if oldest > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', oldest) end
  redis.call('PEXPIRE', KEYS[1], age)
end
return id
`);

/**
 * Register or renew: the instance's lease runs out at Redis's now + ttl (a sorted set by
 * deadline), its description is in a hash; a join (an id that was not live) is announced.
 * KEYS: deadlines, descriptions. ARGV: id, description, ttlMs, channel. Returns 1 on a join.
 */
export const REGISTER: Script = new Script(`
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
local before = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if not deadline or tonumber(deadline) <= ms or before ~= ARGV[2] then
  redis.call('PUBLISH', ARGV[4], 'join')
  return 1
end
return 0
`);

/**
 * List: drop the instances whose lease ran out (announcing it), return the live ones' descriptions,
 * and how long until the next lease runs out (-1: none), so watchers wake up just then.
 * KEYS: deadlines, descriptions. ARGV: channel.
 */
export const LIST: Script = new Script(`
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms)
if #lapsed > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
  redis.call('HDEL', KEYS[2], unpack(lapsed))
  redis.call('PUBLISH', ARGV[1], 'leave')
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = { -1 }
if #live > 0 then out[1] = tonumber(live[2]) - ms end
for i = 1, #live, 2 do
  local description = redis.call('HGET', KEYS[2], live[i])
  if description then out[#out + 1] = description end
end
return out
`);

/**
 * Deregister: remove the instance if it is the one this registration put there, and announce it.
 * KEYS: deadlines, descriptions. ARGV: id, description, channel.
 */
export const DEREGISTER: Script = new Script(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], 'leave')
return 1
`);
