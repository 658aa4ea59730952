-- Publishes one outbox row to Redis atomically. See the `outbox` module docs
-- for the contract; every call is idempotent, so a relay may repeat it.
--
-- KEYS[1]  {prefix}:snapshot:{environment}  hash: epoch, revision, data
-- KEYS[2]  {prefix}:environments            set of environment keys
-- KEYS[3]  {prefix}:deleted:{environment}   set of the environment's deleted epochs
-- ARGV[1]  mode: "message", "snapshot" or "delete"
-- ARGV[2]  the channel, {prefix}:changes
-- ARGV[3]  the change message JSON ("" publishes nothing)
-- ARGV[4]  the environment key
-- ARGV[5]  the epoch
-- ARGV[6]  snapshot mode: the snapshot's revision (decimal)
-- ARGV[7]  snapshot mode: the snapshot JSON
-- ARGV[8]  delete mode: how long the deleted-epoch set lives, in seconds
--
-- Returns 1 when the snapshot was written (snapshot mode) or the environment
-- of this epoch is now absent (delete mode), otherwise 0.

-- Revisions are decimal strings without leading zeros: comparing lengths,
-- then bytes, is exact for every u64 (Lua numbers are doubles, which are not).
local function less(a, b)
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end

local mode = ARGV[1]
local changed = 0

if mode == 'snapshot' then
  -- A deleted epoch never comes back: a stale relay cannot resurrect it.
  if redis.call('SISMEMBER', KEYS[3], ARGV[5]) == 0 then
    local stored = redis.call('HMGET', KEYS[1], 'epoch', 'revision')
    -- Monotonic within an epoch; another epoch (a new history) always wins.
    if not stored[1] or stored[1] ~= ARGV[5] or not stored[2] or less(stored[2], ARGV[6]) then
      redis.call('HSET', KEYS[1], 'epoch', ARGV[5], 'revision', ARGV[6], 'data', ARGV[7])
      changed = 1
    end
    redis.call('SADD', KEYS[2], ARGV[4])
  end
elseif mode == 'delete' then
  -- Only this epoch's snapshot: the key may already hold a re-created
  -- environment (a new epoch) published before this deletion.
  local stored = redis.call('HGET', KEYS[1], 'epoch')
  if not stored or stored == ARGV[5] then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', KEYS[2], ARGV[4])
    changed = 1
  end
  redis.call('SADD', KEYS[3], ARGV[5])
  redis.call('EXPIRE', KEYS[3], ARGV[8])
elseif mode ~= 'message' then
  return redis.error_reply('unknown publish mode')
end

-- Always, even when the snapshot did not move: duplicates are harmless
-- because consumers ignore revisions they already hold.
if ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return changed
