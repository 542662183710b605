"""``incr_and_read`` on Redis/Valkey: one script in one round trip, and one hash slot on a cluster (the rest of its
behaviour is in ``tests/contract/test_incr_and_read.py``)."""

from __future__ import annotations

import pytest

from litestar_kvstores import StoreError
from litestar_kvstores._redis.store import RedisLikeStore
from litestar_kvstores.rate_limit._windows import Limit, RequestCounter
from tests.support.rate_limit import count_once
from tests.support.redis import counting_store
from tests.support.stores import unique_namespace
from testservers.redis import Kind


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
    counter = RequestCounter([Limit("second", 5), Limit("minute", 50), Limit("hour", 500)], strategy, want_reset=False)  # type: ignore[arg-type]
    async with store:
        await count_once(counter, store, "{budget}")
        connection.sends = 0
        usage = await count_once(counter, store, "{budget}")
        assert connection.sends == 1
        assert usage.limit.unit == "second"  # the limit with fewest left
        if strategy == "fixed":  # (sliding adds part of the previous window)
            assert usage.used == 2
            units = ("second", "minute", "hour")
            assert await store.get_many([f"{{budget}}::fixed::{unit}" for unit in units]) == {
                f"{{budget}}::fixed::{unit}": b"2" for unit in units
            }
        await store.delete_all()
