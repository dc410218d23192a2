/**
 * The Lua of `RedisPresence`. A room's presence is three keys in one
 * hash slot (`sb:{<name>:<room>}:...`), and each script touches one room's
 * keys or the endpoint's index, never both, so that they can run on Redis
 * Cluster:
 *
 * - `pz`, a ZSET: member `<processId>|<key>` for each process holding a key,
 *   scored by when its lease runs out (ms, Redis's clock);
 * - `pc`, a HASH: key -> how many processes hold it;
 * - `ph`, a HASH: key -> its data as JSON.
 *
 * The index `sb:<name>:presence-rooms` is a ZSET of the rooms with presence,
 * scored by a version (µs, Redis's clock, strictly increasing per room) that
 * every add and renewal raises, so that a sweep removes a room it found empty
 * only if nobody added to it since it looked.
 *
 * Times come from `redis.call('TIME')`: Redis 7 replicates a script's
 * effects, not the script, so a script may write after reading the clock.
 *
 * @module
 */
import { LuaScript } from "./scripts.ts";

/** `now`: Redis's time in ms; `fmt`: a number as integer digits (Lua's own tostring keeps 14 digits only). */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function fmt(n) return string.format('%.0f', n) end
local function keyOf(member) return string.sub(member, string.find(member, '|', 1, true) + 1) end
`;

/**
 * KEYS pz pc ph; ARGV processId key json lease restore. Holds the key for the
 * process until now + lease. `join` when no process held it; else `update`
 * (data replaced) or `same`. With restore = 1 (a renewal putting back a
 * holding it lost), data another process holds is left as it is.
 */
export const ADD: LuaScript = new LuaScript(PRELUDE + `
local key = ARGV[2]
local added = redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[4])), ARGV[1] .. '|' .. key)
if added == 1 and redis.call('HINCRBY', KEYS[2], key, 1) == 1 then
  redis.call('HSET', KEYS[3], key, ARGV[3])
  return 'join'
end
if ARGV[5] == '1' or redis.call('HGET', KEYS[3], key) == ARGV[3] then return 'same' end
redis.call('HSET', KEYS[3], key, ARGV[3])
return 'update'
`);

/** KEYS pz pc ph; ARGV processId key... Drops the process's holdings; returns the keys nobody holds now. */
export const REMOVE: LuaScript = new LuaScript(`
local left = {}
for i = 2, #ARGV do
  local key = ARGV[i]
  if redis.call('ZREM', KEYS[1], ARGV[1] .. '|' .. key) == 1 and redis.call('HINCRBY', KEYS[2], key, -1) <= 0 then
    redis.call('HDEL', KEYS[2], key)
    redis.call('HDEL', KEYS[3], key)
    left[#left + 1] = key
  end
end
return left
`);

/**
 * KEYS pz; ARGV processId lease key... Extends the process's holdings to
 * now + lease; returns the keys it no longer holds (swept after a stall, or
 * never added because the add failed), for the caller to put back.
 */
export const RENEW: LuaScript = new LuaScript(PRELUDE + `
local until_ = fmt(now + tonumber(ARGV[2]))
local missing = {}
for i = 3, #ARGV do
  local member = ARGV[1] .. '|' .. ARGV[i]
  if redis.call('ZSCORE', KEYS[1], member) then
    redis.call('ZADD', KEYS[1], until_, member)
  else
    missing[#missing + 1] = ARGV[i]
  end
end
return missing
`);

/**
 * KEYS pz pc ph; ARGV limit. Removes up to `limit` holdings whose lease ran
 * out; returns { removed, remaining, key, json, key, json... } with the keys
 * nobody holds now. An empty room loses its hashes too.
 */
export const SWEEP: LuaScript = new LuaScript(PRELUDE + `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[1]))
local out = { #expired, 0 }
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local key = keyOf(member)
  if redis.call('HINCRBY', KEYS[2], key, -1) <= 0 then
    out[#out + 1] = key
    out[#out + 1] = redis.call('HGET', KEYS[3], key) or 'null'
    redis.call('HDEL', KEYS[2], key)
    redis.call('HDEL', KEYS[3], key)
  end
end
out[2] = redis.call('ZCARD', KEYS[1])
if out[2] == 0 then redis.call('DEL', KEYS[2], KEYS[3]) end
return out
`);

/** KEYS pz ph. The keys whose lease has not run out, each once, with their data: { key, json, key, json... }. */
export const LIST: LuaScript = new LuaScript(PRELUDE + `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. fmt(now), '+inf')
local seen, out = {}, {}
for _, member in ipairs(members) do
  local key = keyOf(member)
  if not seen[key] then
    seen[key] = true
    local json = redis.call('HGET', KEYS[2], key)
    if json then
      out[#out + 1] = key
      out[#out + 1] = json
    end
  end
end
return out
`);

/** KEYS index; ARGV room... Raises each room's version in the index (adding the room if it is not there). */
export const TOUCH: LuaScript = new LuaScript(`
local t = redis.call('TIME')
local version = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #ARGV do
  local score = version
  local old = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if old and tonumber(old) >= score then score = tonumber(old) + 1 end
  redis.call('ZADD', KEYS[1], string.format('%.0f', score), ARGV[i])
end
return #ARGV
`);

/** KEYS index; ARGV room version. Removes the room from the index if its version is still the one the sweep read. */
export const UNINDEX: LuaScript = new LuaScript(`
local version = redis.call('ZSCORE', KEYS[1], ARGV[1])
if version and tonumber(version) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`);
