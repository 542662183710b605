-- Add ARGV[1] to the integer counter KEYS[1]; when this call creates the counter, make it expire in ARGV[2]
-- milliseconds. An existing counter keeps its expiry (INCRBY preserves it). Returns the new value.
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
