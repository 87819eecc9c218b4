-- The Redis limiter's two operations, the same arithmetic as gcra.go (read that first).
-- KEYS[1] is one key's hash: r and t are the rpm and tpm TATs (µs), d the UTC day and s the
-- nano-USD spent or reserved on d. ARGV[2] selects the operation. Numbers go back to Redis
-- as strings: Redis would truncate Lua numbers to integers.
local W, DAY, SLACK, NANO = 60e6, 86400e6, 8, 1e9

local now = tonumber(ARGV[1])
if not now then
  -- No clock given: the server's, the same for every gateway instance.
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1e6 + tonumber(t[2])
end
local op = ARGV[2]
local rpm, tpm, budget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local day = math.floor(now / DAY)

local h = redis.call('HMGET', KEYS[1], 'r', 't', 'd', 's')
local tatR, tatT = tonumber(h[1]) or 0, tonumber(h[2]) or 0
local sday, spent = tonumber(h[3]) or -1, tonumber(h[4]) or 0

local function num(x) return string.format('%.17g', x) end

local function gcra(tat, limit, cost)
  local inc = cost * W / limit
  local nxt = math.max(tat, now) + inc
  if inc > W then
    if tat <= now + SLACK then return nxt, true, 0 end
    return tat, false, tat - now
  end
  if nxt - now <= W + SLACK then return nxt, true, 0 end
  return tat, false, nxt - W - now
end

local function left(tat, limit)
  local t = W / limit
  return math.max(math.floor((W - math.max(tat - now, 0) + SLACK) / t), 0)
end

-- Keep the hash only while something in it still matters: a TAT in the future, or spend
-- on today, until the day ends. 1 s of margin, so a state is never lost before its time.
local function save()
  redis.call('HSET', KEYS[1], 'r', num(tatR), 't', num(tatT), 'd', num(sday), 's', num(spent))
  local ttl = math.max(tatR - now, tatT - now, 0)
  if sday == day and spent > 0 then ttl = math.max(ttl, (day + 1) * DAY - now) end
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) + 1000)
end

if op == 'admit' then
  local estTok, estCost = tonumber(ARGV[6]), tonumber(ARGV[7])
  if sday ~= day then spent = 0 end
  local ok = true
  local res = {'', num(day), '0', '-1', '0', '-1', '0', '-1'}
  local nR, nT = tatR, tatT
  if rpm > 0 then
    local a, r
    nR, a, r = gcra(tatR, rpm, 1)
    if not a then ok = false; res[4] = num(r) end
  end
  if tpm > 0 then
    local a, r
    nT, a, r = gcra(tatT, tpm, estTok)
    if not a then ok = false; res[6] = num(r) end
  end
  if budget > 0 and not (spent < budget and spent + estCost <= budget) then
    ok = false
    res[8] = num((day + 1) * DAY - now)
  end
  if ok then
    if rpm > 0 then tatR = nR end
    if tpm > 0 then tatT = nT end
    if budget > 0 then sday = day; spent = spent + estCost end
    save()
    res[1] = '1'
  else
    res[1] = '0'
  end
  if rpm > 0 then res[3] = num(left(tatR, rpm)) end
  if tpm > 0 then res[5] = num(left(tatT, tpm)) end
  if budget > 0 then res[7] = num(math.max(budget - spent, 0) / NANO) end
  return res
end

if op == 'settle' then
  local estTok, actTok = tonumber(ARGV[6]), tonumber(ARGV[7])
  local estCost, actCost, admDay = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
  if tpm > 0 then
    local d = actTok - estTok
    if d > 0 then
      tatT = math.max(tatT, now) + d * W / tpm
    elseif d < 0 and tatT > now then
      tatT = tatT + d * W / tpm
    end
  end
  if budget > 0 then
    if sday ~= day then sday = day; spent = 0 end
    if admDay == day then
      spent = spent + actCost - estCost
    else
      spent = spent + actCost
    end
    spent = math.max(spent, 0)
  end
  save()
  return 'OK'
end

return redis.error_reply('unknown operation ' .. tostring(op))
