-- Read KEYS[1] and, if it has an expiry, set that expiry to ARGV[1] milliseconds from now.
-- A key without an expiry keeps having none. Returns the value, or nil when the key is missing.
local value = redis.call('GET', KEYS[1])
if value and redis.call('PTTL', KEYS[1]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return value
