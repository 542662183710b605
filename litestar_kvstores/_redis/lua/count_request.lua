-- Count one request: add 1 to each of the first ARGV[1] keys (counters), and read the other keys.
-- A counter this call creates expires in its milliseconds, ARGV[1 + i] for KEYS[i] (0: never); an existing one
-- keeps its expiry. Returns the counters' new values, then the values read (nil for a missing key).
local counters = tonumber(ARGV[1])
local replies = {}
for i = 1, counters do
    local created = redis.call('EXISTS', KEYS[i]) == 0
    replies[i] = redis.call('INCR', KEYS[i])
    if created and ARGV[1 + i] ~= '0' then
        redis.call('PEXPIRE', KEYS[i], ARGV[1 + i])
    end
end
for i = counters + 1, #KEYS do
    replies[i] = redis.call('GET', KEYS[i])
end
return replies
