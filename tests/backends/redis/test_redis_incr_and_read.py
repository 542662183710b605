"""``incr_and_read``: several counters and reads in one script and one round trip (the rate limiter's call)."""

from __future__ import annotations

import pytest

from litestar_kvstores import StoreError
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.rate_limit._windows import Limit, WindowEnds, count_request
from tests.support.redis import counting_store
from tests.support.stores import unique_namespace
from testservers.redis import Kind


async def test_counters_start_with_their_expiry_and_keep_it(any_store: RedisLikeStore) -> None:
    await any_store.set("{b}read", b"17")
    counts, values = await any_store.incr_and_read([("{b}s", 30), ("{b}h", 3000), ("{b}n", None)], ["{b}read", "{b}no"])
    assert (counts, values) == ([1, 1, 1], [b"17", None])
    counts, _ = await any_store.incr_and_read([("{b}s", 9000), ("{b}h", 1), ("{b}n", 5)])
    assert counts == [2, 2, 2]
    assert 25 <= (await any_store.expires_in("{b}s") or 0) <= 30
    assert 2990 <= (await any_store.expires_in("{b}h") or 0) <= 3000
    assert await any_store.expires_in("{b}n") is None  # None: never expires, also when a later call gives one
    assert await any_store.incr("{b}s") == 3  # the same counters as incr's


async def test_nothing_to_do_is_no_round_trip(kind: Kind, url: str) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    async with store:
        connection.sends = 0
        assert await store.incr_and_read([]) == ([], [])
        assert connection.sends == 0


async def test_bad_input_raises_before_anything_is_counted(any_store: RedisLikeStore) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        await any_store.incr_and_read([("{b}a", 10), ("", 10)])
    with pytest.raises(ValueError, match="positive"):
        await any_store.incr_and_read([("{b}a", 10), ("{b}c", 0)])
    with pytest.raises(TypeError):
        await any_store.incr_and_read([("{b}a", 10)], [b"key"])  # type: ignore[list-item]
    assert await any_store.get("{b}a") is None


async def test_a_counter_that_holds_no_integer_raises_value_error(any_store: RedisLikeStore) -> None:
    await any_store.set("{b}text", b"abc")
    with pytest.raises(ValueError, match="integer counter"):
        await any_store.incr_and_read([("{b}text", 10)])
    assert await any_store.get("{b}text") == b"abc"


async def test_keys_of_different_hash_slots_raise_store_error_on_a_cluster(
    any_store: RedisLikeStore, request: pytest.FixtureRequest
) -> None:
    counters = [(f"key{number}", 10) for number in range(20)]  # 20 keys without a tag span several slots
    if "cluster" not in request.node.callspec.id:
        assert await any_store.incr_and_read(counters) == ([1] * 20, [])
        return
    with pytest.raises(StoreError):
        await any_store.incr_and_read(counters)


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
async def test_the_rate_limiter_counts_all_limits_in_one_round_trip(kind: Kind, url: str, strategy: str) -> None:
    store, connection = counting_store(kind, url, unique_namespace())
    limits = [Limit("second", 5), Limit("minute", 50), Limit("hour", 500)]
    async with store:
        await count_request(store, "{budget}", limits, strategy, want_reset=False, ends=WindowEnds())  # type: ignore[arg-type]
        connection.sends = 0
        usages = await count_request(store, "{budget}", limits, strategy, want_reset=False, ends=WindowEnds())  # type: ignore[arg-type]
        assert connection.sends == 1
        assert [usage.used for usage in usages] == [2, 2, 2] or strategy == "sliding"  # sliding adds the previous
        await store.delete_all()
