import { LuaScript } from "./scripts.ts";

/**
 * The room's log as it stands: epoch, top id, base id. The epoch changes
 * whenever ids could repeat or diverge: the server that set it has been
 * restarted or replaced by a promoted replica (its run id differs: writes it
 * had not replicated may be gone, and its ids could be issued again), or the
 * stream is gone while ids were issued. Ids go on after the old top, so no id
 * is ever issued twice within an epoch; ids at or before the base belong to
 * earlier epochs. A room without a log gives epoch "" unless `create`; a
 * stream left without its meta is deleted when a new log is created.
 */
const CURRENT = `
local function current(meta, stream, candidate, ttl, create)
  local rid = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
  local m = redis.call('HMGET', meta, 'e', 't', 'b', 'r')
  local epoch, top, base = m[1], tonumber(m[2]), tonumber(m[3])
  if epoch and m[4] == rid and (top == base or redis.call('EXISTS', stream) == 1) then
    return epoch, top, base
  end
  if not epoch and not create then return '', 0, 0 end
  -- A stream whose meta is gone (evicted, deleted) holds entries of an epoch no one can name, and
  -- ids past those the new epoch starts with: XADD would refuse them. It goes with its meta.
  if not epoch then redis.call('DEL', stream) end
  top = top or 0
  redis.call('HSET', meta, 'e', candidate, 't', top, 'b', top, 'r', rid)
  if tonumber(ttl) > 0 then redis.call('PEXPIRE', meta, ttl) end
  return candidate, top, top
end
`;

/**
 * Appends one message and publishes it, atomically: the next id, XADD with
 * that id and MAXLEN, the expiry of both keys, the room index, and PUBLISH
 * of the envelope `<kind><epoch> <id> <timestamp> <except>\n<data>`.
 * With an expected epoch and top (a message built from its own position),
 * nothing is written unless they still hold; the reply then says where the
 * room is, for another try.
 *
 * KEYS: meta, stream, room index, this process's last append number in the
 * room. ARGV: channel, candidate epoch, maxlen, ttl ms, timestamp ms, kind
 * (T text, B binary), data, except (comma separated ids), room, expected top
 * ('' for none), expected epoch, process id, append number (increasing per
 * process: a call sent again is found, not written twice).
 * Reply: { 1, epoch, id } appended, or { 0, epoch, top, held } not, where
 * held is 1 when another process has claimed the room (wait a moment).
 */
export const APPEND: LuaScript = new LuaScript(CURRENT + `
local epoch, top = current(KEYS[1], KEYS[2], ARGV[2], ARGV[4], true)
-- The same call again (a client resending what it sent before a reconnect, whose reply was lost):
-- each process numbers its appends, in order on one connection, so a number not above the last
-- one written here was written already. Its entry is found by its number and nothing is written.
local seq = tonumber(ARGV[13])
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
if seq <= last then
  local tag = ARGV[12] .. ':' .. ARGV[13]
  for _, entry in ipairs(redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1000)) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'o' and fields[i + 1] == tag then
        return { 1, epoch, tonumber(string.match(entry[1], '^(%d+)')) }
      end
    end
  end
  if ARGV[10] ~= '' then return { 0, epoch, top, 0 } end -- a built try that was not written: tried again
end
if ARGV[10] ~= '' then
  -- A message built from its position. A process whose guess was wrong claims the room for a
  -- moment, so that its next try goes before other processes' built messages: without the claim,
  -- the process that just won always answers first and tries first, and the other starves.
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local claim = redis.call('HMGET', KEYS[1], 'c', 'ce')
  local held = claim[1] and claim[1] ~= ARGV[12] and tonumber(claim[2]) > now
  if held then return { 0, epoch, top, 1 } end
  if tonumber(ARGV[10]) ~= top or ARGV[11] ~= epoch then
    redis.call('HSET', KEYS[1], 'c', ARGV[12], 'ce', now + 50)
    return { 0, epoch, top, 0 }
  end
  if claim[1] then redis.call('HDEL', KEYS[1], 'c', 'ce') end
end
local id = top + 1
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], id .. '-0', 'd', ARGV[7], 'k', ARGV[6], 'ts', ARGV[5], 'x', ARGV[8], 'o', ARGV[12] .. ':' .. ARGV[13])
redis.call('HSET', KEYS[1], 't', id)
redis.call('SET', KEYS[4], ARGV[13], 'PX', 600000)
if tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[4]))
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[9])
redis.call('PUBLISH', ARGV[1], ARGV[6] .. epoch .. ' ' .. id .. ' ' .. ARGV[5] .. ' ' .. ARGV[8] .. '\\n' .. ARGV[7])
return { 1, epoch, id }
`);

/**
 * The room's position and the entries after an id, in one atomic read.
 * KEYS: meta, stream. ARGV: candidate epoch, ttl ms, after id, count.
 * Reply: { epoch, top, base, entries } where entries are XRANGE's
 * (`<id>-0`, { d, data, k, kind, ts, time, x, except }).
 */
export const READ_AFTER: LuaScript = new LuaScript(CURRENT + `
local epoch, top, base = current(KEYS[1], KEYS[2], ARGV[1], ARGV[2], false)
local entries = {}
if tonumber(ARGV[4]) > 0 and top > tonumber(ARGV[3]) then
  entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[3] .. '-0', '+', 'COUNT', ARGV[4])
end
return { epoch, top, base, entries }
`);

/**
 * The room's position and its newest entries, oldest last.
 * KEYS: meta, stream. ARGV: candidate epoch, ttl ms, count.
 * Reply: { epoch, top, base, entries } with entries newest first (XREVRANGE).
 */
export const READ_RECENT: LuaScript = new LuaScript(CURRENT + `
local epoch, top, base = current(KEYS[1], KEYS[2], ARGV[1], ARGV[2], false)
local entries = {}
if tonumber(ARGV[3]) > 0 and top > 0 then
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[3])
end
return { epoch, top, base, entries }
`);
