-- Replace KEYS[1] with ARGV[3] only if it holds ARGV[2] (ARGV[1] == '1'), or only if it is missing (ARGV[1] == '0').
-- The new value expires in ARGV[4] milliseconds, or never when ARGV[4] is '0'. Returns 1 if it wrote, else 0.
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
    if current ~= ARGV[2] then
        return 0
    end
elseif current then
    return 0
end
if ARGV[4] == '0' then
    redis.call('SET', KEYS[1], ARGV[3])
else
    redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1
