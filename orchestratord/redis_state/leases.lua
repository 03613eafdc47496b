-- Slot leases shared by every orchestratord instance (ORCH-4105). A replica's live leases are a ZSET of
-- lease id -> expiry (ms, Redis's own clock, so instances on hosts with skewed clocks agree); each lease
-- carries a fencing token from one counter, strictly increasing across the cluster.
-- KEYS[1] = the replica's lease key, KEYS[2] = the fencing counter; ARGV[1] = operation.
local leases, holders, fence = KEYS[1], KEYS[1] .. ':holder', KEYS[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Forget the leases whose holder stopped renewing them: their slots are free again.
local function reap()
  local lapsed = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  for _, id in ipairs(lapsed) do redis.call('HDEL', holders, id) end
  if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', leases, '-inf', now) end
end

local op = ARGV[1]
if op == 'lease' then
  -- ARGV: task id, slots, ttl ms, lease id prefix
  reap()
  if redis.call('ZCARD', leases) >= tonumber(ARGV[3]) then return false end
  local token = redis.call('INCR', fence)
  local id = ARGV[5] .. token
  redis.call('ZADD', leases, now + tonumber(ARGV[4]), id)
  redis.call('HSET', holders, id, ARGV[2])
  return {id, token}
end
if op == 'renew' then
  -- ARGV: lease id, ttl ms. A lapsed lease is never renewed: its slot may be someone else's by now.
  local expiry = tonumber(redis.call('ZSCORE', leases, ARGV[2]))
  if not expiry or expiry <= now then
    reap()
    return 0
  end
  redis.call('ZADD', leases, 'XX', now + tonumber(ARGV[3]), ARGV[2])
  return 1
end
if op == 'release' then
  redis.call('HDEL', holders, ARGV[2])
  return redis.call('ZREM', leases, ARGV[2])
end
if op == 'held' then
  reap()
  return redis.call('HVALS', holders)
end
if op == 'count' then
  reap()
  return redis.call('ZCARD', leases)
end
return redis.error_reply('unknown lease operation ' .. tostring(op))
