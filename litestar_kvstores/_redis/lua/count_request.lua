-- Count one request: add 1 to each of the first ARGV[1] keys (counters), and read the other keys.
-- A counter this call creates expires in its milliseconds, ARGV[1 + i] for KEYS[i] (0: never); an existing one
-- keeps its expiry. Returns the counters' new values, then the values read (nil for a missing key).
-- All or nothing: when a counter cannot be counted (no integer, an overflow, another type), the counts this call made
-- are undone (a counter it created is deleted, one it counted on is counted back, keeping its expiry) and the server's
-- error is returned. A script runs alone, so no other client sees the counts in between.
local counters = tonumber(ARGV[1])
local replies = {}
local created = {}
for i = 1, counters do
    created[i] = redis.call('EXISTS', KEYS[i]) == 0
    local count = redis.pcall('INCR', KEYS[i])
    if type(count) == 'table' and count.err then
        for j = 1, i - 1 do
            if created[j] then
                redis.call('DEL', KEYS[j])
            else
                redis.call('DECR', KEYS[j])
            end
        end
        return count
    end
    replies[i] = count
end
for i = 1, counters do
    if created[i] and ARGV[1 + i] ~= '0' then
        redis.call('PEXPIRE', KEYS[i], ARGV[1 + i])
    end
end
for i = counters + 1, #KEYS do
    replies[i] = redis.call('GET', KEYS[i])
end
return replies
