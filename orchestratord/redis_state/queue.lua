-- One pool's bounded fair queue in Redis: every operation of orchestrator_core.queue.PoolQueue as one
-- atomic script, so any number of orchestratord instances share the queue without read-modify-write races.
-- KEYS[1] is the pool's key prefix (with a {hash tag}, so the keys of one pool share a cluster slot);
-- ARGV[1] the operation, ARGV[2..] its arguments. The layout mirrors PoolQueue's:
--   tasks  hash  id -> the task as JSON (written by the caller, never re-encoded here)
--   where  hash  id -> "f<seq>" in the requeue lane, "l<seq>" in a class lane; seq orders tracking
--   front  list  the requeue lane, head first
--   dl     zset  deadline -> "<seq padded>id", so equal deadlines leave in tracking order
--   arr:c  zset  seq -> id, a class's arrival order (victims of drop-lru / shed-low-priority)
--   lane:c:tenant  zset seq -> id, one tenant's FIFO in class c
--   ltok:c hash  tenant -> estimated tokens queued in its lane
--   ring:c list  the DRR ring of class c;  def:c hash tenant -> deficit
--   meta   hash  seq, run, runlen (class scheduler), max:c (largest cost seen), open:c (turn open)
--   taken  hash  id -> the instance that took it with `next`, until it ends or is requeued (ORCH-4112)
--   tblob  hash  id -> the taken task as JSON, for the instance that reaps a dead taker's tasks

local base = KEYS[1]
local T, W, F, D, M = base .. 'tasks', base .. 'where', base .. 'front', base .. 'dl', base .. 'meta'
local K, KB = base .. 'taken', base .. 'tblob'
local function arr(c) return base .. 'arr:' .. c end
local function lane(c, tenant) return base .. 'lane:' .. c .. ':' .. tenant end
local function ltok(c) return base .. 'ltok:' .. c end
local function ring(c) return base .. 'ring:' .. c end
local function def(c) return base .. 'def:' .. c end
local function cls(priority) if priority == 'batch' then return 'b' end return 'i' end
local function num(value, default) if value then return tonumber(value) end return default end
local function dl_member(seq, id) return string.format('%020d', seq) .. id end

local function decode(blob) return cjson.decode(blob) end

local function remove(id)
  local blob = redis.call('HGET', T, id)
  if not blob then return nil end
  local t = decode(blob)
  local where = redis.call('HGET', W, id)
  local seq = tonumber(string.sub(where, 2))
  redis.call('HDEL', T, id)
  redis.call('HDEL', W, id)
  if t.deadline_at_ms ~= cjson.null then redis.call('ZREM', D, dl_member(seq, id)) end
  if string.sub(where, 1, 1) == 'f' then
    redis.call('LREM', F, 1, id)
  else
    local c = cls(t.priority)
    redis.call('ZREM', lane(c, t.tenant), id)
    redis.call('ZREM', arr(c), id)
    if redis.call('ZCARD', lane(c, t.tenant)) > 0 then
      redis.call('HINCRBY', ltok(c), t.tenant, -t.cost)
    else
      redis.call('HDEL', ltok(c), t.tenant)
    end
  end
  return blob
end

-- `deadline` is the caller's own spelling of the score: a Lua number would print with 14 digits only.
local function track(id, t, blob, place, deadline)
  local seq = redis.call('HINCRBY', M, 'seq', 1)
  redis.call('HSET', T, id, blob)
  redis.call('HSET', W, id, place .. seq)
  if t.deadline_at_ms ~= cjson.null then redis.call('ZADD', D, deadline, dl_member(seq, id)) end
  return seq
end

local function add_to_class(id, t, seq)
  local c = cls(t.priority)
  redis.call('ZADD', lane(c, t.tenant), seq, id)
  redis.call('ZADD', arr(c), seq, id)
  redis.call('HINCRBY', ltok(c), t.tenant, t.cost)
  if t.cost > num(redis.call('HGET', M, 'max:' .. c), 1) then redis.call('HSET', M, 'max:' .. c, t.cost) end
  if redis.call('HSETNX', def(c), t.tenant, 0) == 1 then redis.call('RPUSH', ring(c), t.tenant) end
end

local function victim(arrival, policy)
  if policy == 'drop-lru' then
    return redis.call('ZRANGE', arr('b'), 0, 0)[1] or redis.call('ZRANGE', arr('i'), 0, 0)[1]
  end
  if policy == 'shed-low-priority' and arrival == 'i' then return redis.call('ZRANGE', arr('b'), -1, -1)[1] end
  return nil
end

-- enqueue / requeue: ARGV = op, blob, capacity, policy, deadline. Answers {'ok', evicted blob or ''},
-- {'conflict'} or {'full'}.
local function admit(blob, capacity, policy, place, deadline)
  local t = decode(blob)
  if redis.call('HEXISTS', T, t.task_id) == 1 then return {'conflict'} end
  local evicted = ''
  if redis.call('HLEN', T) >= capacity then
    local id = victim(cls(t.priority), policy)
    if not id then return {'full'} end
    evicted = remove(id)
  end
  local seq = track(t.task_id, t, blob, place, deadline)
  if place == 'f' then
    redis.call('LPUSH', F, t.task_id)
    redis.call('HDEL', K, t.task_id)
    redis.call('HDEL', KB, t.task_id)
  else
    add_to_class(t.task_id, t, seq)
  end
  return {'ok', evicted, redis.call('HLEN', T)}
end

local function expire_due(now)
  local due = redis.call('ZRANGEBYSCORE', D, '-inf', now)  -- `now` as the caller spelled it
  local expired = {}
  for _, member in ipairs(due) do
    local blob = remove(string.sub(member, 21))
    if blob then expired[#expired + 1] = blob end
  end
  return expired
end

local function choose_class(weights)
  local interactive = redis.call('ZCARD', arr('i')) > 0
  local batch = redis.call('ZCARD', arr('b')) > 0
  if not batch then if interactive then return 'i' end return nil end
  if not interactive then return 'b' end
  local run = redis.call('HGET', M, 'run') or 'i'
  if num(redis.call('HGET', M, 'runlen'), 0) < weights[run] then return run end
  if run == 'i' then return 'b' end
  return 'i'
end

local function record(c)
  if (redis.call('HGET', M, 'run') or 'i') == c then
    redis.call('HINCRBY', M, 'runlen', 1)
  else
    redis.call('HSET', M, 'run', c, 'runlen', 1)
  end
end

-- Deficit round robin over the tenants of class c: the head task of the tenant whose deficit covers it.
local function drr_head(c, min_quantum)
  local quantum = math.max(min_quantum, num(redis.call('HGET', M, 'max:' .. c), 1))
  local open_key = 'open:' .. c
  while true do
    local tenant = redis.call('LINDEX', ring(c), 0)
    if not tenant then return nil end
    local head = redis.call('ZRANGE', lane(c, tenant), 0, 0)[1]
    if not head then
      redis.call('LPOP', ring(c))
      redis.call('HDEL', def(c), tenant)
      redis.call('HSET', M, open_key, 0)
    else
      local cost = decode(redis.call('HGET', T, head)).cost
      if num(redis.call('HGET', M, open_key), 0) == 0 then
        redis.call('HINCRBY', def(c), tenant, quantum)
        redis.call('HSET', M, open_key, 1)
      end
      local left = tonumber(redis.call('HGET', def(c), tenant))
      if left >= cost then
        redis.call('HSET', def(c), tenant, left - cost)
        return head
      end
      redis.call('HSET', M, open_key, 0)
      redis.call('LMOVE', ring(c), ring(c), 'LEFT', 'RIGHT')
    end
  end
end

-- next: ARGV = op, now_ms, interactive weight, batch weight, min quantum, taker. The task chosen is
-- recorded as taken by the taker. Answers {tasks left, task blob or '', expired...}.
local function next_task(now, weights, min_quantum, taker)
  local expired = {}
  local first = redis.call('ZRANGE', D, 0, 0, 'WITHSCORES')
  if first[2] and tonumber(first[2]) <= tonumber(now) then expired = expire_due(now) end
  local chosen = ''
  local id = redis.call('LINDEX', F, 0)
  if id then
    chosen = remove(id)
  else
    local c = choose_class(weights)
    if c then
      id = drr_head(c, min_quantum)
      if id then
        chosen = remove(id)
        record(c)
      end
    end
  end
  if chosen ~= '' then
    redis.call('HSET', K, id, taker)
    redis.call('HSET', KB, id, chosen)
  end
  local answer = {redis.call('HLEN', T), chosen}
  for _, blob in ipairs(expired) do answer[#answer + 1] = blob end
  return answer
end

local function drain()
  local places = redis.call('HGETALL', W)
  local order = {}
  for i = 1, #places, 2 do order[#order + 1] = {tonumber(string.sub(places[i + 1], 2)), places[i]} end
  table.sort(order, function(a, b) return a[1] < b[1] end)
  local drained = {}
  for _, entry in ipairs(order) do drained[#drained + 1] = remove(entry[2]) end
  return drained
end

-- reap: the tasks a dead instance had taken, forgotten as taken and answered (at most one reaper gets them).
local function reap(taker)
  local taken = redis.call('HGETALL', K)
  local reaped = {}
  for i = 1, #taken, 2 do
    if taken[i + 1] == taker then
      reaped[#reaped + 1] = redis.call('HGET', KB, taken[i])
      redis.call('HDEL', K, taken[i])
      redis.call('HDEL', KB, taken[i])
    end
  end
  return reaped
end

local function cost_of(id) return decode(redis.call('HGET', T, id)).cost end

-- The work dispatched before a queued task, counted in tracking order: the requeue lane first, then every
-- class task tracked earlier. Answers {found, tasks, tokens}; the tokens as a string (Lua numbers).
local function ahead_of(id)
  local where = redis.call('HGET', W, id)
  if not where then return {0, 0, '0'} end
  local front = redis.call('LRANGE', F, 0, -1)
  local tasks, tokens = 0, 0
  for _, queued in ipairs(front) do
    if queued == id then return {1, tasks, tostring(tokens)} end
    tasks, tokens = tasks + 1, tokens + cost_of(queued)
  end
  local seq = tonumber(string.sub(where, 2))
  for _, c in ipairs({'i', 'b'}) do
    for _, queued in ipairs(redis.call('ZRANGEBYSCORE', arr(c), '-inf', '(' .. seq)) do
      tasks, tokens = tasks + 1, tokens + cost_of(queued)
    end
  end
  return {1, tasks, tostring(tokens)}
end

-- The work before an arrival: everything queued but the victim a full queue would evict for it; with
-- `refuse_full` ('1'), a full queue answers 'full' first, as the in-memory one refuses every arrival.
-- Answers {status, tasks, tokens}.
local function ahead_new(blob, capacity, policy, refuse_full)
  local t = decode(blob)
  if refuse_full == '1' and redis.call('HLEN', T) >= capacity then return {'full', 0, '0'} end
  if redis.call('HEXISTS', T, t.task_id) == 1 then return {'conflict', 0, '0'} end
  local excluded = nil
  if redis.call('HLEN', T) >= capacity then excluded = victim(cls(t.priority), policy) end
  local tasks, tokens = 0, 0
  for _, queued in ipairs(redis.call('HKEYS', T)) do
    if queued ~= excluded then tasks, tokens = tasks + 1, tokens + cost_of(queued) end
  end
  return {'ok', tasks, tostring(tokens)}
end

-- An arrival without a deadline: the work before it (as ahead_new counts it, refusing first when asked)
-- and its enqueue, in one call. Answers {status, evicted blob, total, tasks ahead, tokens ahead}.
local function enqueue_ahead(blob, capacity, policy, deadline, refuse_full)
  local ahead = ahead_new(blob, capacity, policy, refuse_full)
  if ahead[1] ~= 'ok' then return {ahead[1]} end
  local admitted = admit(blob, capacity, policy, 'l', deadline)
  if admitted[1] ~= 'ok' then return admitted end
  return {'ok', admitted[2], admitted[3], ahead[2], ahead[3]}
end

local op = ARGV[1]
if op == 'ahead' then return ahead_of(ARGV[2]) end
if op == 'ahead_new' then return ahead_new(ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]) end
if op == 'enqueue' then return admit(ARGV[2], tonumber(ARGV[3]), ARGV[4], 'l', ARGV[5]) end
if op == 'enqueue_ahead' then return enqueue_ahead(ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]) end
if op == 'requeue' then return admit(ARGV[2], tonumber(ARGV[3]), ARGV[4], 'f', ARGV[5]) end
if op == 'cancel' then return remove(ARGV[2]) or '' end
if op == 'next' then
  return next_task(ARGV[2], {i = tonumber(ARGV[3]), b = tonumber(ARGV[4])}, tonumber(ARGV[5]), ARGV[6])
end
if op == 'reap' then return reap(ARGV[2]) end
if op == 'expire' then return expire_due(ARGV[2]) end
if op == 'drain' then return drain() end
if op == 'depth' then
  return {redis.call('HLEN', T), redis.call('ZCARD', arr('i')), redis.call('ZCARD', arr('b')), redis.call('LLEN', F)}
end
return redis.error_reply('unknown queue operation ' .. tostring(op))
