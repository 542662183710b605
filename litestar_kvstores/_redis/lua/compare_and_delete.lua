-- Delete KEYS[1] only if it holds ARGV[1]. Returns 1 if it deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
