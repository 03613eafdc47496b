-- Tenant quotas shared by every orchestratord instance: the in-flight set and the token bucket of each
-- tenant, the same arithmetic as orchestrator_core.quotas, each operation atomic.
-- KEYS[1] = key prefix ('<prefix>:quota:'); ARGV[1] = operation.
local base = KEYS[1]
local owners = base .. 'owner'
local function flight(tenant) return base .. 'flight:' .. tenant end
local function bucket(tenant) return base .. 'bucket:' .. tenant end
local function exact(value) return string.format('%.17g', value) end

-- The bucket's level at `now` (refilled, never above capacity; a clock going back refills nothing).
local function level(key, cap, now)
  local stored = redis.call('HMGET', key, 'cap', 'level', 'at')
  if tonumber(stored[1]) ~= cap then
    redis.call('HSET', key, 'cap', cap, 'level', exact(cap), 'at', exact(now))
    return cap
  end
  local lvl, at = tonumber(stored[2]), tonumber(stored[3])
  local elapsed = now - at
  if elapsed > 0 then
    lvl = math.min(cap, lvl + elapsed * (cap / 60000.0))
    redis.call('HSET', key, 'level', exact(lvl), 'at', exact(now))
  end
  return lvl
end

local function release(id)
  local tenant = redis.call('HGET', owners, id)
  if not tenant then return nil end
  redis.call('HDEL', owners, id)
  redis.call('SREM', flight(tenant), id)
  return tenant
end

local op = ARGV[1]
if op == 'take' then
  -- ARGV: task_id, tenant, tokens, now, max_concurrent ('' = none), tokens_per_minute ('' = none)
  local id, tenant, tokens, now = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  local max_concurrent, cap = tonumber(ARGV[6]), tonumber(ARGV[7])
  if redis.call('HEXISTS', owners, id) == 1 then return {'ok'} end
  if max_concurrent and redis.call('SCARD', flight(tenant)) >= max_concurrent then return {'concurrency'} end
  if cap then
    if tokens > cap then return {'too_large', exact(cap)} end
    local lvl = level(bucket(tenant), cap, now)
    local missing = math.min(tokens, cap) - lvl
    if missing > 1e-6 then return {'tokens', exact(math.ceil(missing / (cap / 60000.0))), exact(cap)} end
    redis.call('HSET', bucket(tenant), 'level', exact(lvl - tokens))
  end
  redis.call('HSET', owners, id, tenant)
  redis.call('SADD', flight(tenant), id)
  return {'ok'}
end
if op == 'refund' then
  -- ARGV: task_id, tokens, now
  local tenant = release(ARGV[2])
  if not tenant then return 0 end
  local key = bucket(tenant)
  local cap = tonumber(redis.call('HGET', key, 'cap'))
  if cap then
    local lvl = level(key, cap, tonumber(ARGV[4]))
    redis.call('HSET', key, 'level', exact(math.min(cap, lvl + tonumber(ARGV[3]))))
  end
  return 1
end
if op == 'release' then
  if release(ARGV[2]) then return 1 end
  return 0
end
if op == 'in_flight' then return redis.call('SCARD', flight(ARGV[2])) end
return redis.error_reply('unknown quota operation ' .. tostring(op))
